package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/freeport"
	"github.com/gohere/gohere/internal/grafanatest"
	"github.com/gohere/gohere/internal/pgtest"
)

// serveProcess is `gohere serve` running as a child process (this test
// binary re-executed as main).
type serveProcess struct {
	cmd *exec.Cmd
	url string
	log *bytes.Buffer
}

func startServe(t *testing.T, db string, g *grafanatest.Server) *serveProcess {
	t.Helper()
	return startServeAt(t, freeAddr(t), db, g)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// startServeAt starts `gohere serve` on addr with the ci token testCISecret
// and the human token testHumanSecret; extra flags follow.
func startServeAt(t *testing.T, addr, db string, g *grafanatest.Server, extra ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--db", db, "--listen", addr,
		"--grafana-url", g.URL(), "--grafana-timeout", "500ms"}, extra...)...)
	cmd.Env = append(os.Environ(), "GOHERE_TEST_RUN_MAIN=1", "GOHERE_TOKENS=ci:pipeline:"+testCISecret+",human:alice:"+testHumanSecret,
		"GOHERE_GRAFANA_TOKEN="+g.Token(), "GOHERE_DB=", "GOHERE_TOKENS_FILE=")
	p := &serveProcess{cmd: cmd, url: "http://" + addr, log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = io.Discard, &lockedWriter{w: p.log}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gohere serve not ready after 30s: %v\n%s", err, p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestServeSurvivesSIGKILL kills `gohere serve` with SIGKILL while it
// delivers the annotations of 200 deploys to a slow Grafana, restarts it on
// the same database and checks that every deploy ends as exactly one region
// annotation with both times: nothing lost, nothing doubled.
func TestServeSurvivesSIGKILL(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			g := grafanatest.New(t, grafanatest.Options{})
			g.Hang(15 * time.Millisecond) // slow enough that the kill lands mid-delivery
			db := filepath.Join(t.TempDir(), "gohere.db")
			if engine == "postgres" {
				db = pgtest.Start(t)
			}
			p := startServe(t, db, g)
			c, err := client.New(p.url, testCISecret, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}

			const deploys = 200
			ids := make(chan string, deploys)
			var wg sync.WaitGroup
			errs := make(chan error, deploys)
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < deploys; i += 8 {
						d, err := c.StartDeploy(t.Context(), client.StartRequest{Service: fmt.Sprintf("svc%d", i%5), Env: "prod", Version: fmt.Sprintf("v%d", i)})
						if err == nil {
							_, err = c.FinishDeploy(t.Context(), d.ID, gohere.StatusSucceeded)
						}
						if err != nil {
							errs <- err
							return
						}
						ids <- d.ID
					}
				})
			}
			wg.Wait()
			close(errs)
			close(ids)
			for err := range errs {
				t.Fatal(err)
			}
			waitUntil(t, "some annotations before the kill", 30*time.Second, func() bool { return len(g.Annotations()) >= 20 })
			before := len(g.Annotations())
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.cmd.Wait()
			if finished(g) == deploys {
				t.Fatal("every annotation was complete before the kill: the test proves nothing")
			}
			t.Logf("killed with %d annotations visible, %d of them finished", before, finished(g))
			g.Hang(0)

			p = startServe(t, db, g)
			want := map[string]bool{}
			for id := range ids {
				want[id] = true
			}
			waitUntil(t, "every deploy annotated and finished", 60*time.Second, func() bool { return finished(g) >= deploys })
			seen := map[string]int{}
			for _, a := range g.Annotations() {
				for _, tag := range a.Tags {
					if id, ok := strings.CutPrefix(tag, "deploy-id:"); ok {
						seen[id]++
					}
				}
				if a.TimeEnd < a.Time || !slices.Contains(a.Tags, "status:succeeded") || !slices.Contains(a.Tags, "deploy") {
					t.Errorf("annotation %d: %d..%d tags %v", a.ID, a.Time, a.TimeEnd, a.Tags)
				}
			}
			if len(g.Annotations()) != deploys || len(seen) != deploys {
				t.Errorf("%d annotations for %d distinct deploys, want %d each", len(g.Annotations()), len(seen), deploys)
			}
			for id := range want {
				if seen[id] != 1 {
					t.Errorf("deploy %s has %d annotations (tag %s)", id, seen[id], annotate.DeployIDTag(id))
				}
			}
			waitUntil(t, "an empty outbox", 10*time.Second, func() bool {
				return strings.Contains(scrape(t, p.url), `gohere_outbox_pending{kind="annotation"} 0`+"\n")
			})
			if v := g.Violations(); len(v) > 0 {
				t.Errorf("requests violating Grafana's API: %v", v)
			}

			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := p.cmd.Wait(); err != nil {
				t.Errorf("gohere serve after SIGTERM: %v (want exit 0)\n%s", err, p.log)
			}
		})
	}
}

// finished counts the region annotations that have their end time.
func finished(g *grafanatest.Server) int {
	n := 0
	for _, a := range g.Annotations() {
		if a.TimeEnd != 0 {
			n++
		}
	}
	return n
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeBadInput: every way `gohere serve` can be started wrong ends
// with exit 3 and one line on stderr, before anything listens.
func TestServeBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodTokens := write("tokens", "ci:pipeline:"+testCISecret+"\n")
	db := filepath.Join(dir, "gohere.db")
	for _, tt := range []struct {
		name string
		env  string // GOHERE_TOKENS
		args []string
		msg  string
	}{
		{"no tokens", "", []string{"--db", db}, "no API tokens"},
		{"short secret", "ci:a:short", []string{"--db", db}, "shorter than 16 bytes"},
		{"tokens twice", "ci:a:" + testCISecret, []string{"--db", db, "--tokens-file", goodTokens}, "use one"},
		{"missing tokens file", "", []string{"--db", db, "--tokens-file", filepath.Join(dir, "nope")}, "tokens file"},
		{"bad compare config", "", []string{"--db", db, "--tokens-file", goodTokens, "--compare-config", write("signals.yaml", "signals:\n  - name: a\n    qeury: x\n")}, "qeury"},
		{"unusable database path", "", []string{"--db", filepath.Join(dir, "no", "such", "dir", "gohere.db"), "--tokens-file", goodTokens}, "unable to open database file"},
		{"grafana without token", "", []string{"--db", db, "--tokens-file", goodTokens, "--grafana-url", "http://grafana:3000"}, "GOHERE_GRAFANA_TOKEN"},
		{"bad listen address", "", []string{"--db", db, "--tokens-file", goodTokens, "--listen", "127.0.0.1:99999"}, "listen on"},
		{"proxy range without header", "", []string{"--db", db, "--tokens-file", goodTokens, "--trusted-proxy-cidr", "10.0.0.0/8"}, "--trusted-proxy-header is not"},
		{"proxy header without range", "", []string{"--db", db, "--tokens-file", goodTokens, "--trusted-proxy-header", "X-Forwarded-User"}, "needs the proxy's addresses"},
		{"bad proxy range", "", []string{"--db", db, "--tokens-file", goodTokens, "--trusted-proxy-header", "X-Forwarded-User", "--trusted-proxy-cidr", "10.0.0.0/33"}, "10.0.0.0/33"},
		{"bad webhook", "", []string{"--db", db, "--tokens-file", goodTokens, "--notify-webhook", "ftp://hooks.example/services/T0/B0/s3cr3t"}, "--notify-webhook #1: want an http or https URL"},
		{"bad generic webhook", "", []string{"--db", db, "--tokens-file", goodTokens, "--notify-generic", "https://ok.example/a", "--notify-generic", "hooks.example/s3cr3t"}, "--notify-generic #2"},
		{"bad routes", "", []string{"--db", db, "--tokens-file", goodTokens, "--notify-routes", write("routes.yaml", "routes:\n  - service: checkout\n    webhook: [https://hooks.example/s3cr3t]\n")}, "routes.yaml"},
		{"routes twice wrong", "", []string{"--db", db, "--tokens-file", goodTokens, "--notify-routes", write("routes2.yaml", "routes:\n  - env: 'a b'\n    webhooks: [https://hooks.example/s3cr3t]\n  - webhooks: [hooks.example/s3cr3t]\n")}, "routes[1].webhooks[0]"},
		{"missing handles", "", []string{"--db", db, "--tokens-file", goodTokens, "--chat-handles", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"hop-by-hop store header", "", []string{"--db", db, "--tokens-file", goodTokens, "--prometheus-url", "http://127.0.0.1:1", "--prometheus-header", "Transfer-Encoding: chunked"}, "Transfer-Encoding"},
		{"missing store token file", "", []string{"--db", db, "--tokens-file", goodTokens, "--prometheus-url", "http://127.0.0.1:1", "--prometheus-bearer-token-file", filepath.Join(dir, "no-token")}, "no-token"},
		{"bad canary template", "", []string{"--db", db, "--tokens-file", goodTokens, "--prometheus-url", "http://127.0.0.1:1", "--canary-templates", filepath.Dir(write("tpl/default.yaml", "metrics:\n  - name: a\n    qeury: x\n"))}, "default.yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOHERE_TOKENS", tt.env)
			t.Setenv("GOHERE_GRAFANA_TOKEN", "")
			code, out, errOut := gohereCLI(t, append([]string{"serve", "--listen", "127.0.0.1:0"}, tt.args...)...)
			if code != exitError || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 3 and one stderr line mentioning %q", code, out, errOut, tt.msg)
			}
			if strings.Contains(errOut, "s3cr3t") {
				t.Errorf("stderr shows a webhook's secret: %q", errOut)
			}
		})
	}
}
