package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/gohere/gohere/internal/freeport"
)

const hint = "run scripts/install-test-deps.sh"

// shared is the one server of a test binary whose TestMain calls Main.
var shared struct {
	active bool // set by Main before any test runs; read-only afterwards
	once   sync.Once
	srv    *server
	err    error
}

var dbSeq atomic.Int64

// Main runs the tests of a package with one PostgreSQL server shared by every
// Start call, and stops it when they are done. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	shared.active = true
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	os.Exit(code)
}

// Start returns the DSN of a fresh, empty database on a real PostgreSQL
// server listening on 127.0.0.1. With Main the server is shared by the whole
// test binary; without it each call starts its own server, stopped in
// tb.Cleanup. The database is dropped in tb.Cleanup either way.
func Start(tb testing.TB) string {
	tb.Helper()
	var srv *server
	if shared.active {
		shared.once.Do(func() { shared.srv, shared.err = startServer() })
		if shared.err != nil {
			tb.Fatal(shared.err)
		}
		srv = shared.srv
	} else {
		s, err := startServer()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if err := s.stop(); err != nil {
				tb.Error(err)
			}
		})
		srv = s
	}
	return srv.createDB(tb)
}

// server is one postgres process with its data in a temp dir.
type server struct {
	dir     string // temp dir: data/, the unix socket, postgres.log
	port    int
	proc    *os.Process // runuser when we are root, postgres otherwise
	exited  chan struct{}
	waitErr error // valid after exited is closed
	admin   *sql.DB
}

// binDir finds the newest Debian PostgreSQL server installation.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var best string
	var bestVer float64 = -1
	for _, d := range dirs {
		ver, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil || ver <= bestVer {
			continue
		}
		if !executable(filepath.Join(d, "initdb")) || !executable(filepath.Join(d, "postgres")) {
			continue
		}
		best, bestVer = d, ver
	}
	if best == "" {
		return "", fmt.Errorf("pgtest: no PostgreSQL server (initdb, postgres) under /usr/lib/postgresql/*/bin: %s", hint)
	}
	return best, nil
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// runAs builds a command that runs as the postgres user when we are root,
// because PostgreSQL refuses to run as root.
func runAs(dir, name string, args ...string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs runuser (util-linux): %w", err)
		}
		cmd = exec.Command(runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	return cmd, nil
}

func startServer() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	srv, err := initAndRun(bin, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return srv, nil
}

func initAndRun(bin, dir string) (*server, error) {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs the postgres user of the postgresql package (%s): %w", hint, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("pgtest: chown %s: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb, err := runAs(dir, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	if err != nil {
		return nil, err
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A port picked free may be taken before postgres binds it; try again then.
	var lastErr error
	for range 3 {
		srv, err := run(bin, dir)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func run(bin, dir string) (*server, error) {
	port, err := freeport.Get()
	if err != nil {
		return nil, fmt.Errorf("pgtest: free port: %w", err)
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	// Durability is worthless for a throw-away test cluster; speed is not.
	cmd, err := runAs(dir, filepath.Join(bin, "postgres"),
		"-D", filepath.Join(dir, "data"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=200",
		"-c", "log_min_messages=warning", "-c", "log_min_error_statement=panic")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies without stopping us, do not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	srv := &server{dir: dir, port: port, proc: cmd.Process, exited: make(chan struct{})}
	go func() {
		srv.waitErr = cmd.Wait()
		close(srv.exited)
	}()
	srv.admin, err = sql.Open("pgx", srv.dsn("postgres"))
	if err != nil {
		srv.kill()
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := srv.waitReady(30 * time.Second); err != nil {
		srv.admin.Close()
		srv.kill()
		return nil, err
	}
	return srv, nil
}

func (s *server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func (s *server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.admin.PingContext(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("pgtest: postgres exited at start-up (%v):\n%s", s.waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("pgtest: postgres not ready after %s: %w\n%s", limit, err, s.logTail())
		case <-tick.C:
		}
	}
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// postmaster returns the postgres process itself: under runuser, s.proc is
// runuser, which turns SIGINT into SIGTERM (smart shutdown) and SIGKILL.
func (s *server) postmaster() *os.Process {
	b, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
	if err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				return p
			}
		}
	}
	return s.proc
}

// stop shuts the server down (fast shutdown: SIGINT) and removes its files.
func (s *server) stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	s.postmaster().Signal(syscall.SIGINT)
	var err error
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		err = fmt.Errorf("pgtest: postgres did not stop within 30s; killed:\n%s", s.logTail())
		s.kill()
	}
	if rmErr := os.RemoveAll(s.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("pgtest: %w", rmErr))
	}
	return err
}

// kill ends a server that failed to start or to stop (immediate shutdown);
// its files stay for the caller to retry or remove.
func (s *server) kill() {
	s.postmaster().Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.proc.Kill()
		<-s.exited
	}
}

// createDB creates an empty database for one test and drops it afterwards.
func (s *server) createDB(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		select {
		case <-s.exited:
			tb.Fatalf("pgtest: postgres is gone (%v):\n%s", s.waitErr, s.logTail())
		default:
		}
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		select {
		case <-s.exited: // the per-test server already stopped: nothing to drop
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a test that forgot to close its pool must not fail the next one.
		if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// Engines runs fn once per storage engine, as the subtests "sqlite" and
// "postgres", each with the DSN of a fresh database: a SQLite file in a
// temp dir, a new PostgreSQL database (see Start).
func Engines(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "gohere.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, Start(t)) })
}
