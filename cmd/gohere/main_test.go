package main

import (
	"os"
	"testing"

	"github.com/gohere/gohere/internal/pgtest"
)

// TestMain lets end-to-end tests run this test binary as the gohere command
// itself (so a server can be started, killed with SIGKILL and restarted as a
// separate process): with GOHERE_TEST_RUN_MAIN=1 it is main. Otherwise the
// tests share one real PostgreSQL.
func TestMain(m *testing.M) {
	if os.Getenv("GOHERE_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	pgtest.Main(m)
}
