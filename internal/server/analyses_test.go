package server_test

import (
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/telemetry"
)

// newAnalysisEnv is a server that runs analyses, counting the runner
// wake-ups in created; edit, if given, changes its options first.
func newAnalysisEnv(tb testing.TB, edit ...func(*server.Options)) (e *env, created *atomic.Int64) {
	tb.Helper()
	tokens, err := auth.Parse("ci:pipeline:" + ciSecret + ",human:alice:" + humanSecret)
	if err != nil {
		tb.Fatal(err)
	}
	e = &env{db: openStore(tb), metrics: telemetry.NewMetrics(), changed: new(atomic.Int64), logs: &syncBuffer{}}
	created = new(atomic.Int64)
	opts := server.Options{
		Store: e.db, Tokens: tokens, Metrics: e.metrics, PublicURL: "https://gohere.example",
		Logger:            slog.New(slog.NewTextHandler(e.logs, nil)),
		Analyses:          e.db,
		Decider:           e.db,
		Sessions:          e.db,
		OnDeployChanged:   func() { e.changed.Add(1) },
		OnAnalysisCreated: func() { created.Add(1) },
	}
	for _, f := range edit {
		f(&opts)
	}
	srv, err := server.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	e.h, e.srv = srv.Handler(), srv
	return e, created
}

func healthyConfig(tb testing.TB) string {
	tb.Helper()
	sc, err := fixtures.Load("healthy")
	if err != nil {
		tb.Fatal(err)
	}
	return string(sc.Config)
}

func TestAnalysisIsCreatedAndRead(t *testing.T) {
	e, created := newAnalysisEnv(t)
	d := e.create(t, `{"service":"checkout","env":"prod","version":"v2","baseline_version":"v1"}`)
	w := e.do(t, req{method: "POST", path: "/api/v1/deploys/" + d.ID + "/analyses", token: ciSecret,
		body: healthyConfig(t), contentType: "application/yaml"})
	if w.Code != http.StatusCreated {
		t.Fatalf("POST analyses: %d %s", w.Code, w.Body)
	}
	a := decode[store.Analysis](t, w)
	if a.ID == "" || a.DeployID != d.ID || a.State != store.AnalysisPending || a.CanaryVersion != "v2" || a.BaselineVersion != "v1" || a.Retrospective {
		t.Errorf("created %+v", a)
	}
	if got := a.EndAt.Sub(a.StartAt); got != 30*time.Minute {
		t.Errorf("window %s, want the config's lifetime 30m", got)
	}
	if created.Load() != 1 {
		t.Errorf("runner woken %d times, want 1", created.Load())
	}
	w = e.do(t, req{method: "GET", path: "/api/v1/analyses/" + a.ID, token: humanSecret})
	if w.Code != http.StatusOK {
		t.Fatalf("GET analysis: %d %s", w.Code, w.Body)
	}
	if got := decode[store.Analysis](t, w); got.ID != a.ID || got.Config != healthyConfig(t) {
		t.Errorf("read back %+v", got)
	}

	// A window in the past is judged at once.
	w = e.do(t, req{method: "POST", token: ciSecret, body: healthyConfig(t), contentType: "application/yaml",
		path: "/api/v1/deploys/" + d.ID + "/analyses?start=2026-01-01T10:00:00Z&end=2026-01-01T10:30:00Z"})
	if w.Code != http.StatusCreated {
		t.Fatalf("POST retrospective analysis: %d %s", w.Code, w.Body)
	}
	if a := decode[store.Analysis](t, w); !a.Retrospective || !a.StartAt.Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("retrospective analysis %+v", a)
	}
}

func TestAnalysisBadInput(t *testing.T) {
	e, created := newAnalysisEnv(t)
	d := e.create(t, `{"service":"checkout","env":"prod","version":"v2","baseline_version":"v1"}`)
	path := "/api/v1/deploys/" + d.ID + "/analyses"
	good := healthyConfig(t)
	for _, tt := range []struct {
		name string
		r    req
		code int
		msg  string // substrings of the error, separated by |
	}{
		{"human token", req{method: "POST", path: path, token: humanSecret, body: good, contentType: "application/yaml"}, 403, "may not write"},
		{"no token", req{method: "POST", path: path, body: good, contentType: "application/yaml"}, 401, "bearer"},
		{"unknown deploy", req{method: "POST", path: "/api/v1/deploys/nope/analyses", token: ciSecret, body: good, contentType: "application/yaml"}, 404, "nope"},
		{"wrong content type", req{method: "POST", path: path, token: ciSecret, body: good, contentType: "text/plain"}, 400, "application/yaml"},
		{"empty body", req{method: "POST", path: path, token: ciSecret, contentType: "application/yaml"}, 400, "empty"},
		{"too large", req{method: "POST", path: path, token: ciSecret, body: good + "#" + strings.Repeat("x", store.MaxConfigLen), contentType: "application/yaml"}, 413, "larger than"},
		{"bad start", req{method: "POST", path: path + "?start=yesterday", token: ciSecret, body: good, contentType: "application/yaml"}, 400, "RFC 3339"},
		{"end before start", req{method: "POST", path: path + "?start=2026-01-01T10:00:00Z&end=2026-01-01T09:00:00Z", token: ciSecret, body: good, contentType: "application/yaml"}, 400, "must come after"},
		{"every config problem at once", req{method: "POST", path: path, token: ciSecret, contentType: "application/yaml",
			body: "thresholds: {pass: 50, marginal: 75}\nmetrics:\n  - name: a\n"}, 400, "pass 50 is below marginal 75|metrics[0].query (line 3)"},
		{"unknown field", req{method: "POST", path: path, token: ciSecret, contentType: "application/json", body: `{"metrics":[{"name":"a","qurey":"up"}]}`}, 400, "qurey"},
		{"template of an unknown variable", req{method: "POST", path: path, token: ciSecret, contentType: "application/yaml",
			body: strings.Replace(good, "{{.Service}}", "{{.Servise}}", 1)}, 400, "Servise"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, tt.r)
			if w.Code != tt.code {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tt.code)
			}
			msg := errorBody(t, w)
			for _, want := range strings.Split(tt.msg, "|") {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
	if n := created.Load(); n != 0 {
		t.Errorf("runner woken %d times by rejected requests", n)
	}
	if as, err := e.db.ListAnalyses(t.Context(), d.ID); err != nil || len(as) != 0 {
		t.Errorf("rejected requests left %d analyses (err %v)", len(as), err)
	}
	if w := e.do(t, req{method: "GET", path: "/api/v1/analyses/nope", token: humanSecret}); w.Code != 404 {
		t.Errorf("GET unknown analysis: %d %s", w.Code, w.Body)
	}
}

func TestAnalysesNeedAMetricStore(t *testing.T) {
	e := newEnv(t, nil)
	d := e.create(t, `{"service":"checkout","env":"prod","version":"v2"}`)
	w := e.do(t, req{method: "POST", path: "/api/v1/deploys/" + d.ID + "/analyses", token: ciSecret,
		body: healthyConfig(t), contentType: "application/yaml"})
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(errorBody(t, w), "--prometheus-url") {
		t.Fatalf("without a metric store: %d %s; want 503 naming --prometheus-url", w.Code, w.Body)
	}
}
