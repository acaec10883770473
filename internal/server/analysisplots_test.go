package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"maps"
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
	// A rate metric's parts are recorded as the runner counts them: once,
	// at the window's end, over the whole window.
	for _, part := range []string{"numerator", "denominator"} {
		for role, from := range map[string]time.Time{analysis.RoleBaseline: baseline, analysis.RoleCanary: canary} {
			q := side("errors", part, role, "sum(increase(errors_"+part+"[300s]))", from)
			q.Start = q.End
			queries = append(queries, q)
		}
	}
	// An error counter without series counts no errors of the requests.
	for _, role := range []string{analysis.RoleBaseline, analysis.RoleCanary} {
		queries = append(queries, side("no_errors_yet", "numerator", role, "empty_5xx", canary), side("no_errors_yet", "denominator", role, "requests", canary))
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
	// A failed query is a problem; missing data is said in grey.
	for metric, want := range map[string][2]string{
		"latency":   {`<p class="nodata">`, "latency: baseline v1 (shifted +1h): query failed: prometheus http://vm:8428: query_range: connection refused"},
		"mem_empty": {`<p class="nodata missing">`, "no data: the query returned no series; canary v2: no data: the query returned no series"},
	} {
		fig := figureOf(t, body, metric)
		if !strings.Contains(fig, want[0]) || !strings.Contains(fig, want[1]) || strings.Contains(fig, "<svg") {
			t.Errorf("%s: want %s%s instead of a chart:\n%s", metric, want[0], want[1], fig)
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
	// The rate metric is drawn as its rate per step: its counts queried
	// again over the step, not the whole window.
	fig = figureOf(t, body, "errors")
	if got := seriesPaths(fig); len(got["baseline"]) != 1 || len(got["canary"]) != 1 || got["canary"][0] < 5 {
		t.Errorf("errors: want one baseline and one canary line of the rate per step, got points %v:\n%s", got, fig)
	}
	if strings.Contains(fig, "distribution") {
		t.Errorf("errors: a rate metric, judged on counts, has no distribution of values:\n%s", fig)
	}
	for _, want := range []string{"sum(increase(errors_numerator[30s]))", "sum(increase(errors_denominator[30s]))"} {
		if n := strings.Count(strings.Join(asked, "\n"), want); n != 2 {
			t.Errorf("%q asked %d times, want once a side: %q", want, n, asked)
		}
	}
	if len(asked) != 12 {
		t.Errorf("%d queries, want 2 for each of 3 value metrics and 4 for the rate metrics (two asked once): %q", len(asked), asked)
	}
	quiet := figureOf(t, body, "no_errors_yet")
	if got := seriesPaths(quiet); len(got["baseline"]) != 1 || len(got["canary"]) != 1 || strings.Contains(quiet, "nodata") {
		t.Errorf("no_errors_yet: want both sides drawn at a rate of 0, got points %v:\n%s", got, quiet)
	}
	cpu := figureOf(t, body, "cpu")
	for _, want := range []string{`class="chart distribution"`, `class="box baseline"`, `class="box canary"`, "deploy start"} {
		if !strings.Contains(cpu, want) {
			t.Errorf("cpu: want %s in its figure:\n%s", want, cpu)
		}
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

func TestSplitLabelSet(t *testing.T) {
	for _, c := range []struct {
		in, base string
		labels   map[string]string
	}{
		{"latency", "latency", nil},
		{`p99_latency{route="/cart"}`, "p99_latency", map[string]string{"route": "/cart"}},
		{`errors{code="5\"x",route="/a,b=c"}`, "errors", map[string]string{"code": `5"x`, "route": "/a,b=c"}},
		{`broken{route=/cart}`, `broken{route=/cart}`, nil},
	} {
		base, labels := server.SplitLabelSet(c.in)
		if base != c.base || !maps.Equal(labels, c.labels) {
			t.Errorf("splitLabelSet(%q) = %q, %v; want %q, %v", c.in, base, labels, c.base, c.labels)
		}
	}
}

// FuzzSplitLabelSet: any metric name splits without panicking, and a name
// written as the runner writes label sets splits back into its parts.
func FuzzSplitLabelSet(f *testing.F) {
	f.Add("latency", "route", "/cart")
	f.Add(`p99{a="b"}`, "code", `5"x,y=z}`)
	f.Fuzz(func(t *testing.T, name, key, value string) {
		server.SplitLabelSet(name)
		if key == "" || strings.ContainsAny(key, `{}=,"`) || strings.ContainsAny(name, "{") {
			return
		}
		base, labels := server.SplitLabelSet(fmt.Sprintf("%s{%s=%q}", name, key, value))
		if base != name || len(labels) != 1 || labels[key] != value {
			t.Fatalf("split %s{%s=%q} = %q, %v", name, key, value, base, labels)
		}
	})
}
