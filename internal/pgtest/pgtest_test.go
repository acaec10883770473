package pgtest_test

import (
	"database/sql"
	"net"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/gohere/gohere/internal/pgtest"
)

// noMain makes this binary run without pgtest.Main, for TestStartWithoutMain.
const noMain = "PGTEST_TEST_NO_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(noMain) != "" {
		os.Exit(m.Run())
	}
	pgtest.Main(m)
}

// TestStart proves each call gets its own empty, writable database.
func TestStart(t *testing.T) {
	a, b := pgtest.Start(t), pgtest.Start(t)
	if a == b {
		t.Fatalf("Start returned %q twice, want distinct databases", a)
	}
	for _, dsn := range []string{a, b} {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		// The same table in both: they are separate databases.
		if _, err := db.ExecContext(t.Context(), "CREATE TABLE t (v int)"); err != nil {
			t.Fatalf("%s: create table: %v", dsn, err)
		}
		var version string
		if err := db.QueryRowContext(t.Context(), "SHOW server_version").Scan(&version); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		t.Logf("dsn %s: PostgreSQL %s", dsn, version)
	}
}

// TestStartWithoutMain runs TestStart in a child without pgtest.Main: each
// Start has its own server, which must be gone when the child has finished.
func TestStartWithoutMain(t *testing.T) {
	if os.Getenv(noMain) != "" {
		t.Skip("already the child")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestStart$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), noMain+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	dsns := regexp.MustCompile(`dsn (\S+):`).FindAllSubmatch(out, -1)
	if len(dsns) != 2 {
		t.Fatalf("child logged %d DSNs, want 2:\n%s", len(dsns), out)
	}
	hosts := map[string]bool{}
	for _, m := range dsns {
		u, err := url.Parse(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		hosts[u.Host] = true
		if c, err := net.Dial("tcp", u.Host); err == nil {
			c.Close()
			t.Errorf("server %s still listens after its test ended", u.Host)
		}
	}
	if len(hosts) != 2 {
		t.Errorf("without Main the two Start calls shared a server: %v", hosts)
	}
}
