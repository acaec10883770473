package server_test

import (
	"context"
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/telemetry"
	"github.com/gohere/gohere/judge"
)

// newPlotEnv is a server with analyses whose deploy page plots from src
// (nil: no metric store).
func newPlotEnv(tb testing.TB, db *store.DB, src server.MetricSource) *env {
	tb.Helper()
	tokens, err := auth.Parse("ci:pipeline:" + ciSecret)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{db: db, metrics: telemetry.NewMetrics(), logs: &syncBuffer{}}
	opts := server.Options{Store: db, Tokens: tokens, Metrics: e.metrics, Analyses: db,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil))}
	if src != nil { // a nil sourceFunc in the interface would not be a nil Source
		opts.Source = src
	}
	srv, err := server.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	e.h = srv.Handler()
	return e
}

// judgedDeploy records a deploy v1 → v2 and one judged interval of an
// analysis with the given queries and a report of the metrics named in them.
func judgedDeploy(tb testing.TB, db *store.DB, queries []analysis.Query) string {
	tb.Helper()
	ctx := tb.Context()
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	d, _, err := db.CreateDeploy(ctx, gohere.Deploy{ID: "d-plots", Service: "checkout", Env: "prod", Version: "v2",
		BaselineVersion: "v1", Status: gohere.StatusRunning, StartedAt: start}, "")
	if err != nil {
		tb.Fatal(err)
	}
	a, err := db.CreateAnalysis(ctx, store.Analysis{DeployID: d.ID, Config: "judge: gohere", Service: "checkout", Env: "prod",
		BaselineVersion: "v1", CanaryVersion: "v2", StartAt: start, EndAt: start.Add(30 * time.Minute), Retrospective: true})
	if err != nil {
		tb.Fatal(err)
	}
	l, found, err := db.ClaimDueAnalysis(ctx, "test", time.Now(), time.Minute)
	if err != nil || !found || l.ID != a.ID {
		tb.Fatalf("claim: %v %v", found, err)
	}
	var report judge.Report
	for _, q := range queries {
		if q.Role == analysis.RoleCanary {
			report.Metrics = append(report.Metrics, judge.MetricResult{Name: q.Metric, Rate: q.Part != ""})
		}
	}
	qj, _ := json.Marshal(queries)
	rj, _ := json.Marshal(report)
	iv := store.Interval{Seq: 1, Start: start, End: start.Add(5 * time.Minute), BaselineStart: start.Add(-time.Hour),
		BaselineEnd: start.Add(-55 * time.Minute), Queries: qj, Report: rj, Verdict: gohere.VerdictPass, JudgedAt: time.Now()}
	if err := db.RecordInterval(ctx, l.Lease, iv, store.Progress{State: store.AnalysisAwaitingDecision}); err != nil {
		tb.Fatal(err)
	}
	return d.ID
}

// TestDeployPagePlots: each judged value metric is drawn from its recorded
// queries, the before_after baseline moved onto the canary window; a failed
// or empty query is said in words instead of a chart; rate metrics are
// not queried.
func TestDeployPagePlots(t *testing.T) {
	canary := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	baseline := canary.Add(-time.Hour)
	side := func(metric, part, role, query string, from time.Time) analysis.Query {
		return analysis.Query{Metric: metric, Part: part, Role: role, Query: query, Start: from, End: from.Add(5 * time.Minute), Step: "30s"}
	}
	var queries []analysis.Query
	for metric, q := range map[string][2]string{
		"cpu":       {`cpu{version="v1"}`, `cpu{version="v2"}`},
		"latency":   {`fail{version="v1"}`, `latency{version="v2"}`},
		"mem_empty": {`empty{version="v1"}`, `empty{version="v2"}`},
	} {
		queries = append(queries, side(metric, "", analysis.RoleBaseline, q[0], baseline), side(metric, "", analysis.RoleCanary, q[1], canary))
	}
	for _, part := range []string{"numerator", "denominator"} {
		queries = append(queries, side("errors", part, analysis.RoleBaseline, "rate_"+part, baseline), side("errors", part, analysis.RoleCanary, "rate_"+part, canary))
	}
	db := openStore(t)
	id := judgedDeploy(t, db, queries)

	var (
		mu    sync.Mutex
		asked []string
	)
	src := sourceFunc(func(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
		mu.Lock()
		asked = append(asked, query)
		mu.Unlock()
		if step != 30*time.Second || !end.Equal(start.Add(5*time.Minute)) {
			t.Errorf("%s queried over %s – %s step %s, not its recorded window", query, start, end, step)
		}
		switch {
		case strings.HasPrefix(query, "fail"):
			return nil, gohere.Errorf(gohere.Unavailable, "prometheus http://vm:8428: query_range: connection refused")
		case strings.HasPrefix(query, "empty"):
			return nil, nil
		}
		return ramp(ctx, query, start, end, step)
	})
	page := newPlotEnv(t, db, src).do(t, req{method: "GET", path: "/deploys/" + id})
	if page.Code != http.StatusOK {
		t.Fatalf("GET: %d\n%s", page.Code, page.Body)
	}
	body := page.Body.String()
	for metric, want := range map[string]string{
		"latency":   "latency: baseline v1 (shifted +1h): query failed: prometheus http://vm:8428: query_range: connection refused",
		"mem_empty": "no data: the query returned no series; canary v2: no data: the query returned no series",
	} {
		fig := figureOf(t, body, metric)
		if !strings.Contains(fig, `<p class="nodata">`) || !strings.Contains(fig, want) || strings.Contains(fig, "<svg") {
			t.Errorf("%s: want %q instead of a chart:\n%s", metric, want, fig)
		}
	}
	fig := figureOf(t, body, "cpu")
	first := map[string]string{}
	for _, m := range regexp.MustCompile(`<path class="series (baseline|canary)" fill="none" d="M([0-9.]+),`).FindAllStringSubmatch(fig, -1) {
		first[m[1]] = m[2]
	}
	if first["baseline"] == "" || first["baseline"] != first["canary"] || !strings.Contains(fig, "baseline v1 (shifted +1h)") {
		t.Errorf("cpu: want both lines starting at the canary window's left edge, the baseline named as shifted; first x %v:\n%s", first, fig)
	}
	if strings.Contains(body, `data-metric="errors"`) || strings.Contains(strings.Join(asked, " "), "rate_") {
		t.Errorf("the rate metric is plotted or queried: %q", asked)
	}
	if len(asked) != 6 {
		t.Errorf("%d queries, want 2 for each of 3 value metrics: %q", len(asked), asked)
	}

	noStore := newPlotEnv(t, db, nil).do(t, req{method: "GET", path: "/deploys/" + id})
	if noStore.Code != http.StatusOK || !strings.Contains(noStore.Body.String(), "plots need a metric store") ||
		strings.Contains(noStore.Body.String(), "metric-plot") {
		t.Errorf("without a metric store: %d, want one line saying plots need one:\n%s", noStore.Code, noStore.Body)
	}
}

// figureOf cuts one metric's plot out of a deploy page.
func figureOf(t *testing.T, body, metric string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `<figure class="metric-plot" data-metric="`+metric+`">`)
	if !ok {
		t.Fatalf("no plot of %s", metric)
	}
	fig, _, _ := strings.Cut(rest, "</figure>")
	return html.UnescapeString(fig)
}
