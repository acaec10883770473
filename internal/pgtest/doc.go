// Package pgtest starts a real PostgreSQL server for tests: Debian's
// postgresql package, initdb in a temp dir, listening on 127.0.0.1 and on a
// unix socket in that dir, run through runuser as the postgres user when the
// tests run as root (PostgreSQL refuses to run as root).
//
// Recipe:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) } // one server per test binary
//	dsn := pgtest.Start(t)                         // a fresh database per call
//
// Missing binaries fail the test with a hint to run
// scripts/install-test-deps.sh; they never skip it.
//
// It is test plumbing: it imports nothing of ours and must never be imported
// by non-test code.
package pgtest
