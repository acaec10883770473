package tsdbtest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gohere/gohere/fixtures"

	"github.com/gohere/gohere/internal/freeport"
)

const hint = "run scripts/install-test-deps.sh"

// Sample is one series: its labels (including __name__) and its points, the
// timestamps in Unix milliseconds.
type Sample struct {
	Labels     map[string]string
	Timestamps []int64
	Values     []float64
}

// kind is a store flavour: how to run it and how data gets in.
type kind struct {
	name  string                               // for messages
	bin   string                               // looked up in PATH
	args  func(s *Server) []string             // command line for s.dir and s.port
	ready string                               // path answering 200 once queries work
	setup func(tb testing.TB, s *Server) error // before the first start
}

// Server is one store process with its data in a temp dir. Its methods are
// for the goroutine of the test that started it.
type Server struct {
	kind     kind
	path     string // resolved binary
	promtool string // Prometheus: resolved promtool, for backfills
	dir      string // temp dir: data/, server.log, config
	port     int
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error // valid after exited is closed

	// VictoriaMetrics: every (series, timestamp) imported with a non-NaN
	// value, to wait until queries see them all.
	imported map[string]struct{}
}

// URL is the base URL of the HTTP API, e.g. http://127.0.0.1:38421.
func (s *Server) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

func lookup(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("tsdbtest: %s not found (%v): %s", name, err, hint)
	}
	return p
}

// start creates the server in a temp dir and runs it until tb's cleanup.
func start(tb testing.TB, k kind) *Server {
	tb.Helper()
	s := &Server{kind: k, path: lookup(tb, k.bin), dir: tb.TempDir()}
	if k.setup != nil {
		if err := k.setup(tb, s); err != nil {
			tb.Fatalf("tsdbtest: %s: %v", k.name, err)
		}
	}
	// A port picked free may be taken before the server binds it; try again then.
	var err error
	for range 3 {
		if s.port, err = freeport.Get(); err != nil {
			tb.Fatalf("tsdbtest: free port: %v", err)
		}
		if err = s.run(); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// Stop stops the server (SIGTERM, its graceful shutdown) and keeps its data,
// so that Start brings it back: a store outage.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.stop(); err != nil {
		tb.Fatal(err)
	}
}

// Start starts a stopped server again on the same port and data dir.
func (s *Server) Start(tb testing.TB) {
	tb.Helper()
	if s.running() {
		tb.Fatalf("tsdbtest: %s at %s is already running", s.kind.name, s.URL())
	}
	if err := s.run(); err != nil {
		tb.Fatal(err)
	}
}

func (s *Server) running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *Server) logPath() string { return filepath.Join(s.dir, "server.log") }

func (s *Server) run() error {
	logFile, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("tsdbtest: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd := exec.Command(s.path, s.kind.args(s)...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies without stopping us, do not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("tsdbtest: start %s: %w", s.kind.name, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited = cmd, exited
	go func() {
		s.waitErr = cmd.Wait()
		close(exited)
	}()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.kill()
		return err
	}
	return nil
}

func (s *Server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = s.probe(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("tsdbtest: %s exited at start-up (%v):\n%s", s.kind.name, s.waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("tsdbtest: %s not ready after %s: %w\n%s", s.kind.name, limit, last, s.logTail())
		case <-tick.C:
		}
	}
}

func (s *Server) probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+s.kind.ready, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", s.kind.ready, resp.Status)
	}
	return nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath())
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// stop ends a running server gracefully; stopping a stopped one is a no-op.
func (s *Server) stop() error {
	if !s.running() {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(30 * time.Second):
		s.kill()
		return fmt.Errorf("tsdbtest: %s did not stop within 30s; killed:\n%s", s.kind.name, s.logTail())
	}
}

func (s *Server) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// Scenario returns a recorded fixture scenario's series with the first
// sample at start, ready for Import or StartPrometheus.
func Scenario(sc fixtures.Scenario, start time.Time) []Sample {
	var out []Sample
	for _, s := range sc.Samples(start) {
		out = append(out, Sample{Labels: s.Labels, Timestamps: s.Timestamps, Values: s.Values})
	}
	return out
}
