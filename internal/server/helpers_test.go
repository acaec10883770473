package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/telemetry"
)

const (
	ciSecret    = "ci-secret-0123456789"
	humanSecret = "human-secret-0123456789"
	adminSecret = "admin-secret-0123456789"
)

// env is one server on a real SQLite store in a temp dir.
type env struct {
	h       http.Handler
	db      *store.DB
	metrics *telemetry.Metrics
	changed *atomic.Int64 // OnDeployChanged calls
	logs    *syncBuffer
	srv     *server.Server // set by newAnalysisEnv
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 4<<20 { // fuzzing and benchmarks log a lot; tests read recent lines
		b.b.Reset()
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func openStore(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(tb.Context(), filepath.Join(tb.TempDir(), "db.sqlite"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// newEnv starts a server; wrap, if given, stands between it and the store.
func newEnv(tb testing.TB, wrap func(*store.DB) server.Store) *env {
	tb.Helper()
	tokens, err := auth.Parse("ci:pipeline:" + ciSecret + ",human:alice:" + humanSecret + ",admin:root:" + adminSecret)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{db: openStore(tb), metrics: telemetry.NewMetrics(), changed: new(atomic.Int64), logs: &syncBuffer{}}
	var st server.Store = e.db
	if wrap != nil {
		st = wrap(e.db)
	}
	srv, err := server.New(server.Options{
		Store:     st,
		Tokens:    tokens,
		Metrics:   e.metrics,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PublicURL: "https://gohere.example/",
		GoHereURL: func(d gohere.Deploy) string {
			return "https://grafana.example/d/gohere-compare?" + url.Values{"var-baseline": {d.BaselineVersion}, "var-canary": {d.Version}}.Encode()
		},
		OnDeployChanged: func() { e.changed.Add(1) },
		Alerts:          e.db,
		DORA:            e.db,
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.h = srv.Handler()
	return e
}

type req struct {
	method, path string
	token        string // "" sends no Authorization header
	body         string
	contentType  string // default application/json when body is set
	header       map[string]string
}

func (e *env) do(tb testing.TB, r req) *httptest.ResponseRecorder {
	tb.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequestWithContext(tb.Context(), r.method, r.path, body)
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	switch {
	case r.contentType != "":
		hr.Header.Set("Content-Type", r.contentType)
	case r.body != "":
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

// create records a deploy through the API and returns it.
func (e *env) create(tb testing.TB, body string) server.DeployView {
	tb.Helper()
	w := e.do(tb, req{method: "POST", path: "/api/v1/deploys", token: ciSecret, body: body})
	if w.Code != http.StatusCreated {
		tb.Fatalf("POST /api/v1/deploys %s: %d %s", body, w.Code, w.Body)
	}
	return decode[server.DeployView](tb, w)
}

func (e *env) finish(tb testing.TB, id, status string) server.DeployView {
	tb.Helper()
	w := e.do(tb, req{method: "POST", path: "/api/v1/deploys/" + id + "/finish", token: ciSecret, body: `{"status":"` + status + `"}`})
	if w.Code != http.StatusOK {
		tb.Fatalf("finish %s: %d %s", id, w.Code, w.Body)
	}
	return decode[server.DeployView](tb, w)
}

func (e *env) list(tb testing.TB, query string) []server.DeployView {
	tb.Helper()
	w := e.do(tb, req{method: "GET", path: "/api/v1/deploys" + query, token: humanSecret})
	if w.Code != http.StatusOK {
		tb.Fatalf("GET /api/v1/deploys%s: %d %s", query, w.Code, w.Body)
	}
	return decode[server.DeployList](tb, w).Deploys
}

func decode[T any](tb testing.TB, w *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		tb.Fatalf("decode %s: %v", w.Body, err)
	}
	return v
}

// errorBody checks that a response is {"error": "..."} and returns the message.
func errorBody(tb testing.TB, w *httptest.ResponseRecorder) string {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		tb.Fatalf("error body %q is not JSON: %v", w.Body, err)
	}
	msg, ok := v["error"].(string)
	if !ok || msg == "" || len(v) != 1 {
		tb.Fatalf("error body %s: want exactly {\"error\": \"...\"}", w.Body)
	}
	return msg
}
