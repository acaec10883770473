# `make test` is the one command that runs every test on a fresh machine with Go:
# it installs the Debian packages the tests use (only those missing) first.
export GOTOOLCHAIN := local
GO ?= go

.PHONY: test deps check demo bench build

test: deps check
	$(GO) test -race -count=1 -timeout 25m ./...

deps:
	bash scripts/install-test-deps.sh

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -o gohere ./cmd/gohere

# demo builds ./gohere first and says so: a cold `go run ./cmd/gohere demo`
# compiles every dependency for minutes before it prints a line.
# Flags: make demo DEMO_FLAGS=--once
demo:
	@echo "make demo: building ./gohere first (the first build compiles every dependency and may take a few minutes)..."
	$(GO) build -o gohere ./cmd/gohere
	./gohere demo $(DEMO_FLAGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
