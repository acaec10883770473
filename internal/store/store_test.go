package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/pgtest"
	"github.com/gohere/gohere/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// engines runs fn once per engine, each on a fresh, migrated database.
func engines(t *testing.T, fn func(t *testing.T, db *store.DB, dsn string)) {
	t.Helper()
	pgtest.Engines(t, func(t *testing.T, dsn string) { fn(t, open(t, dsn), dsn) })
}

func open(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// base is a minimal valid deploy.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func deploy(service, env, version string, started time.Time) gohere.Deploy {
	return gohere.Deploy{Service: service, Env: env, Version: version, StartedAt: started}
}

func create(t *testing.T, db *store.DB, d gohere.Deploy) gohere.Deploy {
	t.Helper()
	got, created, err := db.CreateDeploy(t.Context(), d, "")
	if err != nil || !created {
		t.Fatalf("CreateDeploy(%s/%s %s) = created %v, %v; want created", d.Service, d.Env, d.Version, created, err)
	}
	return got
}

func wantKind(t *testing.T, what string, err error, want gohere.Kind) {
	t.Helper()
	if got := gohere.KindOf(err); err == nil || got != want {
		t.Fatalf("%s: error %v (kind %v), want kind %v", what, err, got, want)
	}
}

func pending(t *testing.T, db *store.DB) int {
	t.Helper()
	n, _, err := db.OutboxStats(t.Context(), time.Now())
	if err != nil {
		t.Fatalf("OutboxStats: %v", err)
	}
	return n
}

func TestOpen(t *testing.T) {
	for _, dsn := range []string{"", "  "} {
		_, err := store.Open(t.Context(), dsn)
		wantKind(t, fmt.Sprintf("Open(%q)", dsn), err, gohere.Invalid)
	}
	t.Run("unreachable postgres hides the password", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := store.Open(ctx, "postgres://gohere:s3cret@127.0.0.1:1/gohere?connect_timeout=2")
		wantKind(t, "Open(unreachable)", err, gohere.Unavailable)
		ge, ok := errors.AsType[*gohere.Error](err)
		if !ok || strings.Contains(ge.Msg, "s3cret") {
			t.Errorf("user-facing message %v shows the password", ge)
		}
	})
	for name, dsn := range map[string]string{
		"sqlite in memory":       ":memory:",
		"sqlite with parameters": filepath.Join(t.TempDir(), "p.db") + "?_pragma=synchronous(FULL)",
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t, dsn)
			d := create(t, db, deploy("checkout", "prod", "v1", base))
			if _, err := db.GetDeploy(t.Context(), d.ID); err != nil {
				t.Errorf("GetDeploy: %v", err)
			}
		})
	}
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		want := map[string]string{"sqlite": "sqlite", "postgres": "postgres"}[t.Name()[strings.LastIndex(t.Name(), "/")+1:]]
		if got := db.Engine(); got != want {
			t.Errorf("Engine() = %q, want %q", got, want)
		}
		if err := db.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
		// Opening again runs the migrations again: a no-op that keeps the data.
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		again := open(t, dsn)
		got, err := again.GetDeploy(t.Context(), d.ID)
		if err != nil {
			t.Fatalf("GetDeploy after reopen: %v", err)
		}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Errorf("deploy after reopen (-want +got):\n%s", diff)
		}
	})
}

func TestCreateGet(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		in := gohere.Deploy{
			Service: "checkout", Env: "prod", Version: "3f2a1c", BaselineVersion: "2e1b0a",
			Stage: gohere.StageFull, Commit: "3f2a1c", Author: "alice", MergedBy: "bob", PR: "https://example.com/pr/7",
			Changes: []gohere.Change{
				{Commit: "3f2a1c", Author: "alice", Title: "fix tax rounding"},
				{Commit: "0a0a0a", Author: "carol", Title: "ünïcode: titles, with commas"},
				{Commit: "1b1b1b"},
			},
			StartedAt: time.Date(2026, 3, 1, 13, 4, 5, 123456789, time.FixedZone("CET", 3600)),
		}
		got, created, err := db.CreateDeploy(t.Context(), in, "")
		if err != nil || !created {
			t.Fatalf("CreateDeploy = created %v, %v", created, err)
		}
		id, err := uuid.Parse(got.ID)
		if err != nil || id.Version() != 7 {
			t.Errorf("ID %q: want a UUIDv7 (%v)", got.ID, err)
		}
		want := in
		want.ID = got.ID
		want.Status = gohere.StatusRunning
		want.StartedAt = time.Date(2026, 3, 1, 12, 4, 5, 123456000, time.UTC) // UTC, microseconds
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CreateDeploy returned (-want +got):\n%s", diff)
		}
		read, err := db.GetDeploy(t.Context(), got.ID)
		if err != nil {
			t.Fatalf("GetDeploy: %v", err)
		}
		if diff := cmp.Diff(want, read); diff != "" {
			t.Errorf("GetDeploy (-want +got):\n%s", diff)
		}
		if read.StartedAt.Location() != time.UTC {
			t.Errorf("StartedAt location %v, want UTC", read.StartedAt.Location())
		}

		// Defaults: stage canary, start now, empty (not nil) changes.
		before := time.Now().Add(-time.Millisecond)
		bare := create(t, db, gohere.Deploy{Service: "cart", Env: "dev", Version: "v1"})
		if bare.Stage != gohere.StageCanary || bare.StartedAt.Before(before) || bare.Changes == nil {
			t.Errorf("defaults: stage %q, started %v (want after %v), changes %#v", bare.Stage, bare.StartedAt, before, bare.Changes)
		}

		_, err = db.GetDeploy(t.Context(), "no-such-deploy")
		wantKind(t, "GetDeploy(unknown)", err, gohere.NotFound)

		// A deploy created already finished (imports, demo history).
		done := deploy("cart", "dev", "v0", base)
		done.Status, done.FinishedAt = gohere.StatusSucceeded, base.Add(time.Minute)
		if got := create(t, db, done); !got.FinishedAt.Equal(done.FinishedAt) {
			t.Errorf("FinishedAt = %v, want %v", got.FinishedAt, done.FinishedAt)
		}
	})
}

func TestCreateRejects(t *testing.T) {
	valid := deploy("checkout", "prod", "v1", base)
	for _, tc := range []struct {
		name string
		edit func(*gohere.Deploy)
		key  string
	}{
		{"no service", func(d *gohere.Deploy) { d.Service = "" }, ""},
		{"tag breaking env", func(d *gohere.Deploy) { d.Env = "prod,dev" }, ""},
		{"colon in version", func(d *gohere.Deploy) { d.Version = "a:b" }, ""},
		{"bad stage", func(d *gohere.Deploy) { d.Stage = "half" }, ""},
		{"bad status", func(d *gohere.Deploy) { d.Status = "exploded" }, ""},
		{"running with finish", func(d *gohere.Deploy) { d.FinishedAt = base.Add(time.Minute) }, ""},
		{"finished without finish", func(d *gohere.Deploy) { d.Status = gohere.StatusFailed }, ""},
		{"invalid utf-8 title", func(d *gohere.Deploy) { d.Changes = []gohere.Change{{Commit: "a", Title: "\xff\xfe"}} }, ""},
		{"change without commit", func(d *gohere.Deploy) { d.Changes = []gohere.Change{{Title: "x"}} }, ""},
		{"bad id", func(d *gohere.Deploy) { d.ID = "a b" }, ""},
		{"long key", func(*gohere.Deploy) {}, strings.Repeat("k", store.MaxIdempotencyKeyLen+1)},
		{"binary key", func(*gohere.Deploy) {}, "k\xff\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engines(t, func(t *testing.T, db *store.DB, _ string) {
				d := valid
				tc.edit(&d)
				_, _, err := db.CreateDeploy(t.Context(), d, tc.key)
				wantKind(t, "CreateDeploy", err, gohere.Invalid)
				ds, err := db.ListDeploys(t.Context(), gohere.DeployFilter{})
				if err != nil || len(ds) != 0 || pending(t, db) != 0 {
					t.Errorf("after a rejected create: %d deploys, %d outbox entries (%v); want none", len(ds), pending(t, db), err)
				}
			})
		})
	}
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		d := create(t, db, valid)
		again := valid
		again.ID = d.ID
		_, _, err := db.CreateDeploy(t.Context(), again, "")
		wantKind(t, "CreateDeploy(same id)", err, gohere.Conflict)
		if n := pending(t, db); n != 1 {
			t.Errorf("outbox has %d entries, want 1", n)
		}
	})
}

func TestListDeploys(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		// Started one minute apart, oldest first; names say where they belong.
		var all []gohere.Deploy
		for i, se := range [][2]string{
			{"checkout", "prod"}, {"checkout", "dev"}, {"cart", "prod"}, {"checkout", "prod"},
			{"checkout", "prod"}, {"cart", "prod"}, {"checkout", "dev"},
		} {
			d := deploy(se[0], se[1], fmt.Sprintf("v%d", i), base.Add(time.Duration(i)*time.Minute))
			d.Changes = []gohere.Change{{Commit: fmt.Sprintf("c%d", i), Title: "first"}, {Commit: fmt.Sprintf("d%d", i), Title: "second"}}
			all = append(all, create(t, db, d))
		}
		pick := func(idx ...int) []gohere.Deploy {
			var out []gohere.Deploy
			for _, i := range idx {
				out = append(out, all[i])
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    gohere.DeployFilter
			want []gohere.Deploy
		}{
			{"all newest first", gohere.DeployFilter{}, pick(6, 5, 4, 3, 2, 1, 0)},
			{"service", gohere.DeployFilter{Service: "cart"}, pick(5, 2)},
			{"service and env", gohere.DeployFilter{Service: "checkout", Env: "prod"}, pick(4, 3, 0)},
			{"env", gohere.DeployFilter{Env: "dev"}, pick(6, 1)},
			{"since inclusive, until exclusive", gohere.DeployFilter{Since: base.Add(2 * time.Minute), Until: base.Add(5 * time.Minute)}, pick(4, 3, 2)},
			{"limit keeps the newest", gohere.DeployFilter{Service: "checkout", Limit: 2}, pick(6, 4)},
			{"nothing matches", gohere.DeployFilter{Service: "nope"}, []gohere.Deploy{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.ListDeploys(t.Context(), tc.f)
				if err != nil {
					t.Fatalf("ListDeploys: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("ListDeploys(%+v) (-want +got):\n%s", tc.f, diff)
				}
			})
		}
		_, err := db.ListDeploys(t.Context(), gohere.DeployFilter{Limit: -1})
		wantKind(t, "ListDeploys(limit -1)", err, gohere.Invalid)
	})
}

func TestIdempotency(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		in := deploy("checkout", "prod", "v1", base)
		in.Changes = []gohere.Change{{Commit: "abc", Author: "alice", Title: "t"}}
		first, created, err := db.CreateDeploy(t.Context(), in, "ci-run-1")
		if err != nil || !created {
			t.Fatalf("first CreateDeploy = created %v, %v", created, err)
		}
		retry := in
		retry.StartedAt = base.Add(time.Second) // a retry a moment later
		again, created, err := db.CreateDeploy(t.Context(), retry, "ci-run-1")
		if err != nil || created {
			t.Fatalf("retried CreateDeploy = created %v, %v; want the first deploy", created, err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("retry returned another deploy (-first +retry):\n%s", diff)
		}
		other := in
		other.Version = "v2"
		_, _, err = db.CreateDeploy(t.Context(), other, "ci-run-1")
		wantKind(t, "CreateDeploy(key reused for v2)", err, gohere.Conflict)
		// The same key with another body is not a retry: refused, not
		// answered with the first deploy (whose changes would be lost).
		for name, change := range map[string]func(*gohere.Deploy){
			"author":  func(d *gohere.Deploy) { d.Author = "mallory" },
			"changes": func(d *gohere.Deploy) { d.Changes = append(slices.Clone(d.Changes), gohere.Change{Commit: "def"}) },
			"pr":      func(d *gohere.Deploy) { d.PR = "https://git.example/pr/9" },
			"stage":   func(d *gohere.Deploy) { d.Stage = gohere.StageFull },
		} {
			d := in
			change(&d)
			_, _, err = db.CreateDeploy(t.Context(), d, "ci-run-1")
			wantKind(t, "CreateDeploy(key reused, other "+name+")", err, gohere.Conflict)
			if !strings.Contains(err.Error(), "reused with a different request: its "+name) {
				t.Errorf("key reused with another %s: %v", name, err)
			}
		}
		if n := pending(t, db); n != 1 {
			t.Errorf("outbox has %d entries, want 1", n)
		}

		// Concurrent requests with one key create exactly one deploy.
		const workers = 16
		ids := make([]string, workers)
		createdN := make([]bool, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				d, c, err := db.CreateDeploy(t.Context(), deploy("cart", "prod", "v9", base), "concurrent-key")
				ids[i], createdN[i], errs[i] = d.ID, c, err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("worker %d: %v", i, err)
			}
		}
		if n := len(slices.Compact(slices.Sorted(slices.Values(ids)))); n != 1 {
			t.Errorf("concurrent creates returned %d distinct ids, want 1: %v", n, ids)
		}
		if n := len(slices.DeleteFunc(createdN, func(c bool) bool { return !c })); n != 1 {
			t.Errorf("%d calls reported created, want 1", n)
		}
		ds, err := db.ListDeploys(t.Context(), gohere.DeployFilter{Service: "cart"})
		if err != nil || len(ds) != 1 {
			t.Errorf("cart deploys: %d (%v), want 1", len(ds), err)
		}
		if n := pending(t, db); n != 2 {
			t.Errorf("outbox has %d entries, want 2", n)
		}
	})
}

func TestFinishDeploy(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		at := base.Add(10*time.Minute + 999*time.Nanosecond)
		got, err := db.FinishDeploy(t.Context(), d.ID, gohere.StatusSucceeded, at)
		if err != nil {
			t.Fatalf("FinishDeploy: %v", err)
		}
		want := d
		want.Status, want.FinishedAt = gohere.StatusSucceeded, base.Add(10*time.Minute)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("FinishDeploy (-want +got):\n%s", diff)
		}
		if read, _ := db.GetDeploy(t.Context(), d.ID); !cmp.Equal(want, read) {
			t.Errorf("GetDeploy after finish:\n%s", cmp.Diff(want, read))
		}
		if n := pending(t, db); n != 2 {
			t.Errorf("outbox has %d entries after create+finish, want 2", n)
		}

		running := create(t, db, deploy("checkout", "prod", "v2", base.Add(time.Hour)))
		for _, tc := range []struct {
			name   string
			id     string
			status gohere.Status
			at     time.Time
			want   gohere.Kind
		}{
			{"again", d.ID, gohere.StatusFailed, at, gohere.Conflict},
			{"unknown", "no-such", gohere.StatusFailed, at, gohere.NotFound},
			{"running is not final", running.ID, gohere.StatusRunning, at, gohere.Invalid},
			{"made-up status", running.ID, "done", at, gohere.Invalid},
			{"no time", running.ID, gohere.StatusFailed, time.Time{}, gohere.Invalid},
			{"before start", running.ID, gohere.StatusFailed, base, gohere.Invalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := db.FinishDeploy(t.Context(), tc.id, tc.status, tc.at)
				wantKind(t, "FinishDeploy", err, tc.want)
			})
		}
		if n := pending(t, db); n != 3 {
			t.Errorf("outbox has %d entries after failed finishes, want 3", n)
		}
		if read, _ := db.GetDeploy(t.Context(), running.ID); !read.Running() {
			t.Errorf("deploy %s is %s after failed finishes, want running", running.ID, read.Status)
		}
	})
}

func TestLastSucceeded(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		finish := func(d gohere.Deploy, s gohere.Status) gohere.Deploy {
			t.Helper()
			f, err := db.FinishDeploy(t.Context(), d.ID, s, d.StartedAt.Add(time.Minute))
			if err != nil {
				t.Fatalf("FinishDeploy: %v", err)
			}
			return f
		}
		at := func(m int) time.Time { return base.Add(time.Duration(m) * time.Minute) }
		v1 := finish(create(t, db, deploy("checkout", "prod", "v1", at(0))), gohere.StatusSucceeded)
		v2 := finish(create(t, db, deploy("checkout", "prod", "v2", at(10))), gohere.StatusSucceeded)
		finish(create(t, db, deploy("checkout", "prod", "v3", at(20))), gohere.StatusFailed)
		create(t, db, deploy("checkout", "prod", "v4", at(30))) // still running
		finish(create(t, db, deploy("checkout", "dev", "v5", at(25))), gohere.StatusSucceeded)
		finish(create(t, db, deploy("cart", "prod", "v6", at(26))), gohere.StatusSucceeded)

		for _, tc := range []struct {
			name    string
			version string // of the new deploy
			before  time.Time
			want    gohere.Deploy
			found   bool
		}{
			{"skips failed and running", "v9", at(31), v2, true},
			{"strictly before", "v9", at(10), v1, true},
			{"none yet", "v9", at(0), gohere.Deploy{}, false},
			{"not a version compared with itself", "v2", at(31), v1, true},
			{"not one still running then", "v9", at(10).Add(30 * time.Second), v1, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, found, err := db.LastSucceeded(t.Context(), "checkout", "prod", tc.version, tc.before)
				if err != nil || found != tc.found {
					t.Fatalf("LastSucceeded = found %v, %v; want found %v", found, err, tc.found)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("LastSucceeded (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// TestWritesAreAtomic makes the outbox insert fail (a trigger) and checks
// that neither the deploy nor its changes nor the finish were written.
func TestWritesAreAtomic(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		raw := rawDB(t, db, dsn)
		for _, stmt := range map[string][]string{
			"sqlite": {`CREATE TRIGGER outbox_down BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'outbox down'); END`},
			"postgres": {
				`CREATE FUNCTION outbox_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'outbox down'; END $$`,
				`CREATE TRIGGER outbox_down BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_down()`,
			},
		}[db.Engine()] {
			if _, err := raw.ExecContext(t.Context(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}

		in := deploy("cart", "prod", "v2", base)
		in.Changes = []gohere.Change{{Commit: "abc"}}
		if _, _, err := db.CreateDeploy(t.Context(), in, "key"); err == nil {
			t.Fatal("CreateDeploy succeeded although the outbox insert fails")
		}
		var deploys, changes int
		if err := raw.QueryRowContext(t.Context(),
			"SELECT (SELECT COUNT(*) FROM deploys), (SELECT COUNT(*) FROM deploy_changes)").Scan(&deploys, &changes); err != nil {
			t.Fatal(err)
		}
		if deploys != 1 || changes != 0 {
			t.Errorf("after a failed create: %d deploys, %d changes; want 1 and 0", deploys, changes)
		}

		if _, err := db.FinishDeploy(t.Context(), d.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err == nil {
			t.Fatal("FinishDeploy succeeded although the outbox insert fails")
		}
		if got, _ := db.GetDeploy(t.Context(), d.ID); !got.Running() || !got.FinishedAt.IsZero() {
			t.Errorf("after a failed finish the deploy is %s (finished %v), want running", got.Status, got.FinishedAt)
		}
		if n := pending(t, db); n != 1 {
			t.Errorf("outbox has %d entries, want 1", n)
		}

		// The key of the failed create is free again.
		if _, err := raw.ExecContext(t.Context(), "DROP TRIGGER outbox_down"+map[string]string{"postgres": " ON outbox"}[db.Engine()]); err != nil {
			t.Fatal(err)
		}
		if _, created, err := db.CreateDeploy(t.Context(), in, "key"); err != nil || !created {
			t.Errorf("CreateDeploy after recovery = created %v, %v", created, err)
		}
	})
}

// TestConcurrentWrites races creates and finishes, some of which must fail,
// some only after writing (a trigger fails the outbox insert of deploys
// named fail-*). On SQLite they share transactions (group commit): a failure
// must undo its own writes only, and every success must be there with its
// changes and outbox entry.
func TestConcurrentWrites(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		for _, stmt := range map[string][]string{
			"sqlite": {`CREATE TRIGGER outbox_fail BEFORE INSERT ON outbox WHEN NEW.deploy_id LIKE 'fail-%'
				BEGIN SELECT RAISE(ABORT, 'outbox down'); END`},
			"postgres": {
				`CREATE FUNCTION outbox_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'outbox down'; END $$`,
				`CREATE TRIGGER outbox_fail BEFORE INSERT ON outbox FOR EACH ROW WHEN (NEW.deploy_id LIKE 'fail-%') EXECUTE FUNCTION outbox_fail()`,
			},
		}[db.Engine()] {
			if _, err := rawDB(t, db, dsn).ExecContext(t.Context(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		target := create(t, db, deploy("checkout", "prod", "v0", base))
		const n = 20 // of each kind
		var (
			wg               sync.WaitGroup
			mu               sync.Mutex
			dupOK, finishOK  int
			dupErrs, finErrs []error
			failed           []error
			created          []string
			unexpected       []error
		)
		for i := range n {
			wg.Go(func() { // distinct: all succeed
				d := deploy("cart", "prod", fmt.Sprintf("v%d", i), base)
				d.Changes = []gohere.Change{{Commit: fmt.Sprintf("a%d", i)}, {Commit: fmt.Sprintf("b%d", i)}}
				got, _, err := db.CreateDeploy(t.Context(), d, "")
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					unexpected = append(unexpected, err)
					return
				}
				created = append(created, got.ID)
			})
			wg.Go(func() { // one id: one succeeds
				d := deploy("search", "prod", fmt.Sprintf("v%d", i), base)
				d.ID = "same-id"
				d.Changes = []gohere.Change{{Commit: fmt.Sprintf("c%d", i)}}
				_, _, err := db.CreateDeploy(t.Context(), d, "")
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					dupOK++
				} else {
					dupErrs = append(dupErrs, err)
				}
			})
			wg.Go(func() { // fails after writing the deploy and its change
				d := deploy("search", "dev", "v1", base)
				d.ID = fmt.Sprintf("fail-%d", i)
				d.Changes = []gohere.Change{{Commit: "x"}}
				_, _, err := db.CreateDeploy(t.Context(), d, "")
				mu.Lock()
				defer mu.Unlock()
				failed = append(failed, err)
			})
			wg.Go(func() { // one deploy: one finish succeeds
				_, err := db.FinishDeploy(t.Context(), target.ID, gohere.StatusSucceeded, base.Add(time.Minute))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					finishOK++
				} else {
					finErrs = append(finErrs, err)
				}
			})
		}
		wg.Wait()
		if len(unexpected) > 0 {
			t.Fatalf("distinct creates failed: %v", unexpected)
		}
		if dupOK != 1 || finishOK != 1 {
			t.Errorf("%d creates of one id and %d finishes of one deploy succeeded, want 1 each", dupOK, finishOK)
		}
		for _, err := range append(dupErrs, finErrs...) {
			wantKind(t, "losing write", err, gohere.Conflict)
		}
		for _, err := range failed {
			if err == nil {
				t.Error("CreateDeploy(fail-*) succeeded although its outbox insert fails")
			}
		}
		if ds, err := db.ListDeploys(t.Context(), gohere.DeployFilter{Service: "search", Env: "dev"}); err != nil || len(ds) != 0 {
			t.Errorf("failed creates left %d deploys (%v), want none", len(ds), err)
		}
		var changes int
		if err := rawDB(t, db, dsn).QueryRowContext(t.Context(),
			"SELECT COUNT(*) FROM deploy_changes WHERE deploy_id LIKE 'fail-%'").Scan(&changes); err != nil || changes != 0 {
			t.Errorf("failed creates left %d changes (%v), want none", changes, err)
		}
		for _, id := range append(created, "same-id") {
			d, err := db.GetDeploy(t.Context(), id)
			if err != nil || len(d.Changes) == 0 {
				t.Errorf("GetDeploy(%s) = %d changes, %v; want the deploy with its changes", id, len(d.Changes), err)
			}
		}
		if d, err := db.GetDeploy(t.Context(), "same-id"); err != nil || len(d.Changes) != 1 {
			t.Errorf("same-id has %d changes (%v), want the winner's 1", len(d.Changes), err)
		}
		// One entry per create (target, n distinct, one same-id) and the finish.
		if got, want := pending(t, db), 1+n+1+1; got != want {
			t.Errorf("outbox has %d entries, want %d", got, want)
		}
	})
}

// TestCanceledWrite: a write whose caller has gone leaves nothing behind.
func TestCanceledWrite(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := db.CreateDeploy(ctx, deploy("checkout", "prod", "v1", base), "")
		wantKind(t, "CreateDeploy(canceled)", err, gohere.Unavailable)
		if ds, err := db.ListDeploys(t.Context(), gohere.DeployFilter{}); err != nil || len(ds) != 0 || pending(t, db) != 0 {
			t.Errorf("after a canceled create: %d deploys (%v), %d outbox entries; want none", len(ds), err, pending(t, db))
		}
	})
}

// TestWALCheckpointed: on SQLite, the checkpointer copies recent commits
// from the WAL into the database file itself, which is what a reader that
// ignores the WAL (immutable=1) sees.
func TestWALCheckpointed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gohere.db")
	db := open(t, path)
	const n = 50
	for i := range n {
		create(t, db, deploy("checkout", "prod", fmt.Sprintf("v%d", i), base))
	}
	var err error
	// immutable=1: no WAL, no locks; a new pool each time, for no cache.
	inFile := func() (int, error) {
		file, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
		if err != nil {
			return 0, err
		}
		defer file.Close()
		var got int
		err = file.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM deploys").Scan(&got)
		return got, err
	}
	var got int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		// A read racing the checkpoint may fail: try again.
		if got, err = inFile(); err == nil && got == n {
			return
		}
	}
	t.Errorf("the database file holds %d deploys, want all %d checkpointed from the WAL", got, n)
}

// rawDB opens a plain connection to the store's database, for what the
// store's API must not offer.
func rawDB(t *testing.T, db *store.DB, dsn string) *sql.DB {
	t.Helper()
	driver := map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[db.Engine()]
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func TestClaimOutbox(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		const n, claimers = 200, 8
		for i := range n {
			create(t, db, deploy("checkout", "prod", fmt.Sprintf("v%d", i), base))
		}
		now := time.Now().Add(time.Second)
		const lease = time.Minute

		// Claimers race until the outbox is drained: every entry is claimed
		// exactly once.
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for range claimers {
			wg.Go(func() {
				for {
					es, err := db.ClaimOutbox(t.Context(), now, lease, 2)
					if err != nil {
						t.Errorf("ClaimOutbox: %v", err)
						return
					}
					if len(es) == 0 {
						return
					}
					ids := make([]int64, len(es))
					for i, e := range es {
						ids[i] = e.ID
					}
					if !slices.IsSorted(ids) {
						t.Errorf("claimed entries not oldest first: %v", es)
					}
					mu.Lock()
					for _, e := range es {
						seen[e.ID]++
						if !e.NextAttemptAt.Equal(now.Add(lease).Truncate(time.Microsecond)) {
							t.Errorf("entry %d leased until %v, want %v", e.ID, e.NextAttemptAt, now.Add(lease))
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("claimed %d distinct entries, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("entry %d claimed %d times", id, c)
			}
		}
		// Leased: nobody gets them until the lease ends; then they are due again.
		if es, err := db.ClaimOutbox(t.Context(), now.Add(lease-time.Millisecond), lease, 100); err != nil || len(es) != 0 {
			t.Errorf("claim during the lease = %d entries, %v; want none", len(es), err)
		}
		if es, err := db.ClaimOutbox(t.Context(), now.Add(lease), lease, n); err != nil || len(es) != n {
			t.Errorf("claim after the lease = %d entries, %v; want %d", len(es), err, n)
		}
		for _, bad := range [][2]int{{0, 1}, {1, 0}, {-1, 1}} {
			_, err := db.ClaimOutbox(t.Context(), now, time.Duration(bad[1])*time.Second, bad[0])
			wantKind(t, fmt.Sprintf("ClaimOutbox(limit %d, lease %ds)", bad[0], bad[1]), err, gohere.Invalid)
		}
	})
}

func TestOutboxLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		created := time.Now()
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		if n, oldest, err := db.OutboxStats(ctx, created.Add(time.Hour)); err != nil || n != 1 || oldest < 59*time.Minute || oldest > time.Hour {
			t.Errorf("OutboxStats = %d, %v, %v; want 1 entry about an hour old", n, oldest, err)
		}
		if id, err := db.AnnotationID(ctx, d.ID); err != nil || id != 0 {
			t.Errorf("AnnotationID before delivery = %d, %v; want 0", id, err)
		}

		now := time.Now()
		es, err := db.ClaimOutbox(ctx, now, time.Minute, 10)
		if err != nil || len(es) != 1 {
			t.Fatalf("ClaimOutbox = %v, %v; want one entry", es, err)
		}
		e := es[0]
		if e.DeployID != d.ID || e.Attempts != 0 || e.LastError != "" || e.CreatedAt.Before(created.Add(-time.Second)) {
			t.Errorf("claimed %+v, want a fresh entry of deploy %s", e, d.ID)
		}

		// A failed attempt: due again at next, with the reason kept.
		next := now.Add(30 * time.Second)
		reason := "grafana: 503 \xff\x00" + strings.Repeat("x", 5000)
		if err := db.RetryOutbox(ctx, e.ID, next, reason); err != nil {
			t.Fatalf("RetryOutbox: %v", err)
		}
		if es, err := db.ClaimOutbox(ctx, next.Add(-time.Millisecond), time.Minute, 10); err != nil || len(es) != 0 {
			t.Errorf("claim before the retry is due = %v, %v; want none", es, err)
		}
		es, err = db.ClaimOutbox(ctx, next, time.Minute, 10)
		if err != nil || len(es) != 1 {
			t.Fatalf("claim when the retry is due = %v, %v; want one", es, err)
		}
		if got := es[0]; got.Attempts != 1 || !strings.HasPrefix(got.LastError, "grafana: 503 \uFFFD") || len(got.LastError) > 2048 {
			t.Errorf("after a retry: attempts %d, last error %.40q (%d bytes); want 1 and the cleaned reason", got.Attempts, got.LastError, len(got.LastError))
		}

		if err := db.CompleteOutbox(ctx, e.ID, d.ID, 42); err != nil {
			t.Fatalf("CompleteOutbox: %v", err)
		}
		if id, err := db.AnnotationID(ctx, d.ID); err != nil || id != 42 {
			t.Errorf("AnnotationID = %d, %v; want 42", id, err)
		}
		if n, oldest, err := db.OutboxStats(ctx, time.Now()); err != nil || n != 0 || oldest != 0 {
			t.Errorf("OutboxStats after delivery = %d, %v, %v; want 0, 0", n, oldest, err)
		}
		// A second completion (a worker whose lease ran out) is harmless.
		if err := db.CompleteOutbox(ctx, e.ID, d.ID, 42); err != nil {
			t.Errorf("CompleteOutbox again: %v", err)
		}
		wantKind(t, "RetryOutbox(completed)", db.RetryOutbox(ctx, e.ID, next, "late"), gohere.NotFound)
		wantKind(t, "CompleteOutbox(unknown deploy)", db.CompleteOutbox(ctx, e.ID, "no-such", 1), gohere.NotFound)
		wantKind(t, "CompleteOutbox(id 0)", db.CompleteOutbox(ctx, e.ID, d.ID, 0), gohere.Invalid)
		_, err = db.AnnotationID(ctx, "no-such")
		wantKind(t, "AnnotationID(unknown)", err, gohere.NotFound)

		// Finishing enqueues the update of the same annotation.
		if _, err := db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		es, err = db.ClaimOutbox(ctx, time.Now().Add(time.Second), time.Minute, 10)
		if err != nil || len(es) != 1 || es[0].DeployID != d.ID || es[0].ID <= e.ID {
			t.Errorf("after finish: claimed %v, %v; want one new entry of %s", es, err, d.ID)
		}
	})
}

// TestMigrationsInStep keeps the two engines' schemas the same list of steps.
func TestMigrationsInStep(t *testing.T) {
	names := func(dir string) []string {
		es, err := os.ReadDir(filepath.Join("migrations", dir))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	sqlite, postgres := names("sqlite"), names("postgres")
	if len(sqlite) == 0 {
		t.Fatal("no migrations")
	}
	if diff := cmp.Diff(sqlite, postgres); diff != "" {
		t.Errorf("migrations differ (-sqlite +postgres):\n%s", diff)
	}
}

// BenchmarkCreateDeploy measures one recorded deploy with three changes and
// its outbox entry: one transaction, committed durably.
func BenchmarkCreateDeploy(b *testing.B) {
	d := deploy("checkout", "prod", "v1", time.Time{})
	d.Author, d.Commit = "alice", "3f2a1c"
	d.Changes = []gohere.Change{
		{Commit: "3f2a1c", Author: "alice", Title: "fix tax rounding"},
		{Commit: "2b2b2b", Author: "bob", Title: "bump deps"},
		{Commit: "1c1c1c", Author: "carol", Title: "faster cart"},
	}
	for _, e := range []struct{ name, dsn string }{
		{"sqlite", filepath.Join(b.TempDir(), "gohere.db")},
		{"postgres", pgtest.Start(b)},
	} {
		b.Run(e.name, func(b *testing.B) {
			db, err := store.Open(b.Context(), e.dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := db.CreateDeploy(b.Context(), d, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// seeded opens a SQLite store holding n deploys, written straight into the
// file in one transaction: row(i) gives the service, env and status of the
// i-th, which started i seconds after base.
func seeded(b *testing.B, n int, row func(i int) (service, env string, status gohere.Status)) *store.DB {
	b.Helper()
	dsn := filepath.Join(b.TempDir(), "gohere.db")
	db, err := store.Open(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.BeginTx(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		service, env, status := row(i)
		if _, err := tx.ExecContext(b.Context(), `INSERT INTO deploys (id, service, env, version, stage, status, started_at)
			VALUES ($1, $2, $3, $4, 'canary', $5, $6)`,
			fmt.Sprintf("d%05d", i), service, env, fmt.Sprintf("v%d", i), string(status),
			base.Add(time.Duration(i)*time.Second).UnixMicro()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkListDeploys lists the newest 100 deploys of one service and env
// out of 20,000 on SQLite: the (service, env, started_at) index at work.
func BenchmarkListDeploys(b *testing.B) {
	db := seeded(b, 20000, func(i int) (string, string, gohere.Status) {
		return fmt.Sprintf("svc%d", i%20), []string{"prod", "dev"}[i%2], gohere.StatusSucceeded
	})
	f := gohere.DeployFilter{Service: "svc7", Env: "dev", Limit: 100}
	b.ReportAllocs()
	for b.Loop() {
		ds, err := db.ListDeploys(b.Context(), f)
		if err != nil || len(ds) != 100 {
			b.Fatalf("ListDeploys = %d deploys, %v", len(ds), err)
		}
	}
}

// BenchmarkLastSucceeded finds the baseline of a new deploy, as every
// POST /api/v1/deploys does, behind 20,000 deploys that did not succeed on
// SQLite: the partial index deploys_last_succeeded at work (without it each
// call read all 20,000).
func BenchmarkLastSucceeded(b *testing.B) {
	db := seeded(b, 20000, func(i int) (string, string, gohere.Status) {
		if i == 0 {
			return "checkout", "prod", gohere.StatusSucceeded
		}
		return "checkout", "prod", gohere.StatusRunning
	})
	before := base.Add(24 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		d, found, err := db.LastSucceeded(b.Context(), "checkout", "prod", "v-new", before)
		if err != nil || !found || d.Version != "v0" {
			b.Fatalf("LastSucceeded = %s, %v, %v; want v0", d.Version, found, err)
		}
	}
}
