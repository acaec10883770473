package app

import (
	"context"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/grafanatest"
	"github.com/gohere/gohere/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	ciSecret    = "ci-secret-0123456789"
	humanSecret = "human-secret-0123456789"
)

// start runs an App like `gohere serve` does and returns a CI client of it.
func start(t *testing.T, opts Options) (*App, *client.Client) {
	t.Helper()
	tokens, err := auth.Parse("ci:pipeline:" + ciSecret + ",human:alice:" + humanSecret)
	if err != nil {
		t.Fatal(err)
	}
	if opts.DB == "" {
		opts.DB = filepath.Join(t.TempDir(), "gohere.db")
	}
	opts.Listen = "127.0.0.1:0"
	opts.Tokens = tokens
	opts.retry = outboxTiming{poll: 20 * time.Millisecond, minBackoff: 5 * time.Millisecond, maxBackoff: 100 * time.Millisecond}
	a, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c, err := client.New("http://"+a.Addr(), ciSecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeployIsRecordedAndMarkedOnGrafana(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			g := grafanatest.New(t, grafanatest.Options{})
			opts := Options{GrafanaURL: g.URL(), GrafanaToken: g.Token(), PublicURL: "https://gohere.example"}
			if engine == "postgres" {
				opts.DB = pgtest.Start(t)
			}
			_, c := start(t, opts)
			ctx := t.Context()

			first, err := c.StartDeploy(ctx, client.StartRequest{Service: "checkout", Env: "prod", Version: "a1", Author: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.FinishDeploy(ctx, first.ID, gohere.StatusSucceeded); err != nil {
				t.Fatal(err)
			}
			d, err := c.StartDeploy(ctx, client.StartRequest{
				Service: "checkout", Env: "prod", Version: "3f2a1c", Commit: "3f2a1c", Author: "alice", MergedBy: "bob",
				Changes: []gohere.Change{{Commit: "3f2a1c", Author: "alice", Title: "fix tax rounding"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if d.BaselineVersion != "a1" {
				t.Errorf("baseline = %q, want the last succeeded version a1", d.BaselineVersion)
			}
			for _, want := range []string{g.URL() + "/d/gohere-compare/", "var-baseline=a1", "var-canary=3f2a1c"} {
				if !strings.Contains(d.GoHereURL, want) {
					t.Errorf("GO HERE %q lacks %q", d.GoHereURL, want)
				}
			}
			if want := "https://gohere.example/deploys/" + d.ID; d.ReportURL != want {
				t.Errorf("report URL = %q, want %q", d.ReportURL, want)
			}
			finished, err := c.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded)
			if err != nil {
				t.Fatal(err)
			}

			var region grafanatest.Annotation
			waitFor(t, "the finished deploy's region annotation", func() bool {
				for _, a := range g.Annotations() {
					if slices.Contains(a.Tags, annotate.DeployIDTag(d.ID)) && slices.Contains(a.Tags, "status:succeeded") {
						region = a
						return true
					}
				}
				return false
			})
			if region.Time != finished.StartedAt.UnixMilli() || region.TimeEnd != finished.FinishedAt.UnixMilli() {
				t.Errorf("region %d..%d, want %d..%d", region.Time, region.TimeEnd, finished.StartedAt.UnixMilli(), finished.FinishedAt.UnixMilli())
			}
			for _, want := range []string{"alice", "fix tax rounding", d.ReportURL} {
				if !strings.Contains(region.Text, want) {
					t.Errorf("annotation text %q lacks %q", region.Text, want)
				}
			}
			waitFor(t, "two annotations", func() bool { return len(g.Annotations()) == 2 })
		})
	}
}

// TestGrafanaOutageLosesAndDoublesNothing: Grafana answers 503 while 100
// deploys are started and finished, then hangs past the client timeout for
// 100 more; once it recovers, each deploy has exactly one region with both
// times and its tags.
func TestGrafanaOutageLosesAndDoublesNothing(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			g := grafanatest.New(t, grafanatest.Options{})
			opts := Options{GrafanaURL: g.URL(), GrafanaToken: g.Token(), GrafanaTimeout: 100 * time.Millisecond}
			if engine == "postgres" {
				opts.DB = pgtest.Start(t)
			}
			_, c := start(t, opts)
			ctx := t.Context()
			record := func(from, to int) map[string]client.DeployView {
				out := map[string]client.DeployView{}
				for i := from; i < to; i++ {
					d, err := c.StartDeploy(ctx, client.StartRequest{Service: "svc" + strconv.Itoa(i%5), Env: "prod", Version: "v" + strconv.Itoa(i)})
					if err != nil {
						t.Fatal(err)
					}
					if d, err = c.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded); err != nil {
						t.Fatal(err)
					}
					out[d.ID] = d
				}
				return out
			}
			g.FailNext(1<<30, http.StatusServiceUnavailable)
			deploys := record(0, 100)
			if n := len(g.Annotations()); n != 0 {
				t.Fatalf("%d annotations written while Grafana answered 503", n)
			}
			g.FailNext(0, 0)
			g.Hang(time.Hour)
			maps.Copy(deploys, record(100, 200))
			g.Hang(0)

			waitFor(t, "200 finished regions", func() bool {
				n := 0
				for _, a := range g.Annotations() {
					if a.TimeEnd != 0 {
						n++
					}
				}
				return n >= 200
			})
			got := g.Annotations()
			if len(got) != 200 {
				t.Fatalf("%d annotations, want 200", len(got))
			}
			seen := map[string]bool{}
			for _, a := range got {
				var d client.DeployView
				for _, tag := range a.Tags {
					if id, ok := strings.CutPrefix(tag, "deploy-id:"); ok {
						d = deploys[id]
					}
				}
				if d.ID == "" || seen[d.ID] {
					t.Fatalf("annotation %d (tags %q) is not the one region of a recorded deploy", a.ID, a.Tags)
				}
				seen[d.ID] = true
				if a.Time != d.StartedAt.UnixMilli() || a.TimeEnd != d.FinishedAt.UnixMilli() {
					t.Errorf("deploy %s: region %d..%d, want %d..%d", d.ID, a.Time, a.TimeEnd, d.StartedAt.UnixMilli(), d.FinishedAt.UnixMilli())
				}
				for _, tag := range []string{"deploy", "gohere", "service:" + d.Service, "env:prod", "version:" + d.Version, "stage:canary", "status:succeeded"} {
					if !slices.Contains(a.Tags, tag) {
						t.Errorf("deploy %s: tags %q lack %q", d.ID, a.Tags, tag)
					}
				}
			}
		})
	}
}

func TestWithoutGrafanaEverythingIsStillRecorded(t *testing.T) {
	a, c := start(t, Options{})
	ctx := t.Context()
	d, err := c.StartDeploy(ctx, client.StartRequest{Service: "checkout", Env: "prod", Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.GoHereURL, a.URL()+"/compare?") {
		t.Errorf("GO HERE %q is not the built-in compare page of %s", d.GoHereURL, a.URL())
	}
	got, err := c.ListDeploys(ctx, gohere.DeployFilter{Service: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != d.ID {
		t.Fatalf("list = %+v, want the one deploy %s", got, d.ID)
	}
	for _, page := range []string{"/", "/deploys/" + d.ID} {
		resp, err := http.Get(a.URL() + page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "checkout") {
			t.Errorf("GET %s: %s, page mentions checkout: %v", page, resp.Status, strings.Contains(string(body), "checkout"))
		}
	}
}

func TestWritesNeedACIToken(t *testing.T) {
	a, _ := start(t, Options{})
	human, err := client.New("http://"+a.Addr(), humanSecret, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = human.StartDeploy(t.Context(), client.StartRequest{Service: "checkout", Env: "prod", Version: "v1"})
	if got := gohere.KindOf(err); got != gohere.Forbidden {
		t.Errorf("human token starting a deploy: kind %v (%v), want forbidden", got, err)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	tokens, err := auth.Parse("ci:x:" + ciSecret)
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]Options{
		"no database":          {Tokens: tokens},
		"no tokens":            {DB: filepath.Join(t.TempDir(), "db")},
		"grafana without auth": {DB: filepath.Join(t.TempDir(), "db"), Tokens: tokens, GrafanaURL: "http://grafana:3000"},
		"bad grafana url":      {DB: filepath.Join(t.TempDir(), "db"), Tokens: tokens, GrafanaURL: "grafana:3000", GrafanaToken: "x"},
	} {
		t.Run(name, func(t *testing.T) {
			opts.Listen = "127.0.0.1:0"
			_, err := New(t.Context(), opts)
			if gohere.KindOf(err) != gohere.Invalid {
				t.Errorf("New: %v, want an invalid-options error", err)
			}
		})
	}
}

// TestBadURLsDoNotEchoPasswords: a mistyped URL may hold credentials; the
// error names the flag without them.
func TestBadURLsDoNotEchoPasswords(t *testing.T) {
	tokens, err := auth.Parse("ci:x:" + ciSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http//alice:hunter2hunter2@prom:9090", "ftp://alice:hunter2hunter2@prom", "%zz:hunter2hunter2"} {
		_, err := New(t.Context(), Options{DB: filepath.Join(t.TempDir(), "db"), Listen: "127.0.0.1:0", Tokens: tokens, PrometheusURL: u})
		if gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), "--prometheus-url") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(--prometheus-url %s): %v; want an invalid-options error without the password", u, err)
		}
	}
}
