package server_test

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/telemetry"
)

// sourceFunc is a function-field fake of the one-method MetricSource.
type sourceFunc func(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error)

func (f sourceFunc) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
	return f(ctx, query, start, end, step)
}

// newCompareEnv is a server whose compare page reads src (nil: no store).
func newCompareEnv(tb testing.TB, src server.MetricSource, signals compare.SignalSet) *env {
	tb.Helper()
	tokens, err := auth.Parse("ci:pipeline:" + ciSecret)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{db: openStore(tb), metrics: telemetry.NewMetrics(), logs: &syncBuffer{}}
	opts := server.Options{
		Store: e.db, Tokens: tokens, Metrics: e.metrics,
		Logger:         slog.New(slog.NewTextHandler(e.logs, nil)),
		CompareSignals: signals,
	}
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

// comparePath is a finished deploy's page: from 10:00, start 10:15, to 10:35.
const comparePath = "/compare?service=checkout&env=prod&baseline=v1&canary=v2&from=1795428000000&to=1795430100000&start=1795428900000"

// ramp answers every query with one series of the page's points, rising.
func ramp(_ context.Context, _ string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
	var pts []prom.Point
	for t, i := start, 0; !t.After(end); t, i = t.Add(step), i+1 {
		pts = append(pts, prom.Point{T: t, V: float64(i)})
	}
	return []prom.Series{{Labels: map[string]string{}, Points: pts}}, nil
}

var pathPoints = regexp.MustCompile(`<path class="series (baseline|canary)" fill="none" d="([^"]*)"`)

// seriesPaths counts the drawn points of each role's lines in a page.
func seriesPaths(body string) map[string][]int {
	got := map[string][]int{}
	for _, m := range pathPoints.FindAllStringSubmatch(body, -1) {
		got[m[1]] = append(got[m[1]], strings.Count(m[2], "M")+strings.Count(m[2], "L"))
	}
	return got
}

func TestComparePage(t *testing.T) {
	signals, err := compare.DefaultSignals(compare.Labels{})
	if err != nil {
		t.Fatal(err)
	}
	e := newCompareEnv(t, sourceFunc(ramp), compare.SignalSet{})
	w := e.do(t, req{method: "GET", path: comparePath}) // no token: pages are public
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", comparePath, w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	body := w.Body.String()
	for _, want := range []string{
		"Compare checkout · prod: v1 → v2", "2026-11-23 10:15:00Z", "Requests, errors, duration", "Saturation",
		`sum(rate(http_requests_total{service=&#34;checkout&#34;,env=&#34;prod&#34;,version=&#34;v1&#34;}[60s]))`,
		`<g class="marker">`, ">deploy start</text>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", " style=", "https://", "No metrics store", `class="nodata"`} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Every signal: one baseline and one canary line side by side, and one
	// of each in the overlay; 35 minutes at 15 s are 141 points.
	paths := seriesPaths(body)
	for _, role := range []string{"baseline", "canary"} {
		if len(paths[role]) != 2*len(signals) {
			t.Errorf("%d %s lines, want %d (side and overlay of %d signals)", len(paths[role]), role, 2*len(signals), len(signals))
		}
		for _, n := range paths[role] {
			if n != 141 {
				t.Errorf("a %s line has %d points, want 141", role, n)
				break
			}
		}
	}
	if n := strings.Count(body, `<g class="marker">`); n != 3*len(signals) {
		t.Errorf("%d deploy markers, want %d (3 charts of %d signals)", n, 3*len(signals), len(signals))
	}
}

// TestComparePageProblems: a failing or empty query is said in words for
// its panel and side; the other panels still draw.
func TestComparePageProblems(t *testing.T) {
	var (
		mu    sync.Mutex
		steps []time.Duration
	)
	src := sourceFunc(func(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
		mu.Lock()
		steps = append(steps, step)
		mu.Unlock()
		switch {
		case strings.Contains(query, "process_cpu_seconds_total") && strings.Contains(query, `version="v2"`):
			return nil, gohere.Errorf(gohere.Unavailable, "prometheus http://vm:8428: query_range: connection refused")
		case strings.Contains(query, "process_resident_memory_bytes"):
			return nil, nil
		case strings.Contains(query, "histogram_quantile(0.99"):
			return []prom.Series{{Points: []prom.Point{{T: start, V: math.NaN()}, {T: end, V: math.NaN()}}}}, nil
		case strings.Contains(query, "histogram_quantile(0.5") && strings.Contains(query, `version="v1"`):
			return nil, context.DeadlineExceeded // not a kind of ours: not shown
		}
		return ramp(ctx, query, start, end, step)
	})
	e := newCompareEnv(t, src, compare.SignalSet{})
	w := e.do(t, req{method: "GET", path: comparePath})
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d\n%s", w.Code, w.Body)
	}
	body := w.Body.String()
	for signal, want := range map[string][]string{
		"cpu":          {"canary v2: query failed: prometheus http://vm:8428: query_range: connection refused"},
		"latency_p99":  {"baseline v1: no data: every value is NaN or infinite", "canary v2: no data: every value is NaN or infinite"},
		"latency_p50":  {"baseline v1: query failed: internal error (see the server log)"},
		"request_rate": {`class="series baseline"`, `class="series canary"`},
	} {
		panel := panelOf(t, body, signal)
		for _, w := range want {
			if !strings.Contains(panel, w) {
				t.Errorf("panel %s lacks %q:\n%s", signal, w, panel)
			}
		}
	}
	// A signal without a single series is one quiet line, not three boxes.
	if !strings.Contains(body, `<p class="nodata-signal" id="signal-memory" title="baseline: sum(process_resident_memory_bytes{`) ||
		!strings.Contains(body, "<strong>Memory (resident)</strong>: no data for this signal</p>") || strings.Contains(body, `<article class="signal" id="signal-memory">`) {
		t.Error("memory, without any series, is not one line saying so")
	}
	if p := panelOf(t, body, "cpu"); !strings.Contains(p, `class="series baseline"`) || strings.Contains(p, `class="series canary"`) {
		t.Errorf("cpu panel: want the baseline drawn and no canary line:\n%s", p)
	}
	if p := panelOf(t, body, "request_rate"); strings.Contains(p, "nodata") {
		t.Errorf("request_rate panel reports a problem:\n%s", p)
	}
	if !strings.Contains(e.logs.String(), "compare page: query failed") {
		t.Error("failed queries are not logged")
	}
	for _, s := range steps {
		if s != 15*time.Second {
			t.Errorf("queried with step %s, want 15s", s)
		}
	}
}

var (
	svgs   = regexp.MustCompile(`(?s)<svg .*?</svg>`)
	yticks = regexp.MustCompile(`<text class="ytick"[^>]*>([^<]*)</text>`)
)

// ticksOf lists the y-axis labels of each chart of a panel.
func ticksOf(panel string) [][]string {
	var out [][]string
	for _, svg := range svgs.FindAllString(panel, -1) {
		var ticks []string
		for _, m := range yticks.FindAllStringSubmatch(svg, -1) {
			ticks = append(ticks, m[1])
		}
		out = append(out, ticks)
	}
	return out
}

// TestComparePageScaleAndClip: the charts of one signal share their value
// scale, however different the sides; a spike is clipped at the scale's
// edge and marked, not allowed to flatten the rest.
func TestComparePageScaleAndClip(t *testing.T) {
	src := sourceFunc(func(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
		series, _ := ramp(ctx, query, start, end, step)
		pts := series[0].Points
		if strings.Contains(query, `version="v2"`) {
			for i := range pts {
				pts[i].V *= 2 // the canary reaches twice the baseline's values
			}
			if strings.Contains(query, "http_requests_total") && !strings.Contains(query, "code=") {
				pts[len(pts)/2].V = 1e6 // one spike
			}
		}
		return series, nil
	})
	e := newCompareEnv(t, src, compare.SignalSet{})
	body := e.do(t, req{method: "GET", path: comparePath}).Body.String()
	for _, signal := range []string{"request_rate", "cpu"} {
		panel := panelOf(t, body, signal)
		charts := ticksOf(panel)
		if len(charts) != 3 || len(charts[0]) == 0 {
			t.Fatalf("%s: %d charts, want 3 with ticks", signal, len(charts))
		}
		for i, c := range charts[1:] {
			if !slices.Equal(c, charts[0]) {
				t.Errorf("%s: chart %d has the y-axis %v, the baseline's %v; want one scale", signal, i+2, c, charts[0])
			}
		}
	}
	rate := panelOf(t, body, "request_rate")
	for _, want := range []string{`<g class="rule clip">`, "clipped above 756/s", `<path class="series clipped"`, "1 value clipped"} {
		if !strings.Contains(rate, want) {
			t.Errorf("request_rate with a spike lacks %q", want)
		}
	}
	if strings.Contains(rate, "1e+06") || strings.Contains(panelOf(t, body, "cpu"), "clipped") {
		t.Error("the spike is on the scale, or a signal without one is clipped")
	}
}

// TestComparePageLinks: the page links back to its deploy with the
// deploy's status and verdict, and offers time ranges around the deploy
// start as plain links.
func TestComparePageLinks(t *testing.T) {
	e := newCompareEnv(t, sourceFunc(ramp), compare.SignalSet{})
	start := time.UnixMilli(1795428900000).UTC()
	d, _, err := e.db.CreateDeploy(t.Context(), gohere.Deploy{Service: "checkout", Env: "prod", Version: "v2", BaselineVersion: "v1",
		StartedAt: start.Add(123 * time.Microsecond)}, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.db.CreateAnalysis(t.Context(), store.Analysis{DeployID: d.ID, Config: "judge: gohere", Service: "checkout", Env: "prod",
		BaselineVersion: "v1", CanaryVersion: "v2", StartAt: start, EndAt: start.Add(20 * time.Minute), Retrospective: true})
	if err != nil {
		t.Fatal(err)
	}
	recordLast(t, e.db, a, gohere.VerdictFail)
	if _, err := e.db.FinishDeploy(t.Context(), d.ID, gohere.StatusRolledBack, start.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	body := e.do(t, req{method: "GET", path: comparePath}).Body.String()
	for _, want := range []string{
		`Deploy <a href="/deploys/` + d.ID + `">checkout · prod · v2</a> <span class="status status-rolled_back">rolled_back</span>`,
		`<span class="verdict verdict-Fail">Fail</span>`,
		`<a href="/compare?service=checkout&amp;env=prod&amp;baseline=v1&amp;canary=v2&amp;from=1795428000000&amp;to=1795429800000&amp;start=1795428900000">±15 min</a>`,
		`<a href="/compare?service=checkout&amp;env=prod&amp;baseline=v1&amp;canary=v2&amp;from=1795425300000&amp;to=1795432500000&amp;start=1795428900000">±1 h</a>`,
		`from=1795407300000&amp;to=1795450500000&amp;start=1795428900000">±6 h</a>`,
		`the whole deploy</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	around := "/compare?service=checkout&env=prod&baseline=v1&canary=v2&from=1795425300000&to=1795432500000&start=1795428900000"
	if b := e.do(t, req{method: "GET", path: around}).Body.String(); !strings.Contains(b, `<strong aria-current="page">±1 h</strong>`) {
		t.Error("the ±1 h page does not mark its range as the current one")
	}
	other := strings.Replace(comparePath, "canary=v2", "canary=v3", 1)
	if b := e.do(t, req{method: "GET", path: other}).Body.String(); strings.Contains(b, "/deploys/") {
		t.Error("the page of another version links to this deploy")
	}
}

// panelOf cuts one signal's article out of a compare page.
func panelOf(t *testing.T, body, signal string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `<article class="signal" id="signal-`+signal+`">`)
	if !ok {
		t.Fatalf("no panel for %s", signal)
	}
	panel, _, _ := strings.Cut(rest, "</article>")
	return panel
}

func TestComparePageNoBaseline(t *testing.T) {
	var queries []string
	var mu sync.Mutex
	src := sourceFunc(func(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
		mu.Lock()
		queries = append(queries, query)
		mu.Unlock()
		return ramp(ctx, query, start, end, step)
	})
	e := newCompareEnv(t, src, compare.SignalSet{})
	w := e.do(t, req{method: "GET", path: "/compare?service=checkout&env=prod&canary=v2&from=1795428000000&to=1795430100000"})
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d\n%s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{"first deploy of checkout in prod: no baseline", "baseline : no baseline version to compare with",
		"(from + 15 minutes)", "2026-11-23 10:15:00Z"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if paths := seriesPaths(body); len(paths["baseline"]) != 0 || len(paths["canary"]) == 0 {
		t.Errorf("lines %v: want canary lines only", paths)
	}
	for _, q := range queries {
		if !strings.Contains(q, `version="v2"`) {
			t.Errorf("queried %s: want only the canary", q)
		}
	}
}

func TestComparePageNoStore(t *testing.T) {
	e := newCompareEnv(t, nil, compare.SignalSet{})
	w := e.do(t, req{method: "GET", path: comparePath})
	if w.Code != http.StatusOK {
		t.Fatalf("GET: %d\n%s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{
		"No metrics store is configured", "--prometheus-url",
		"checkout", "prod", "v1", "v2", "2026-11-23 10:00:00Z", "2026-11-23 10:35:00Z", "2026-11-23 10:15:00Z",
		`sum(rate(http_requests_total{service=&#34;checkout&#34;,env=&#34;prod&#34;,version=&#34;v2&#34;}[60s]))`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<svg") {
		t.Error("page draws charts without a metrics store")
	}
}

func TestComparePageConfiguredSignals(t *testing.T) {
	set, err := compare.LoadSignals(strings.NewReader(`
vars: {ns: shop}
signals:
  - name: queue_depth
    title: Queue depth
    group: saturation
    query: max by (queue) (queue_depth{ns="{{.Vars.ns}}",app="{{.Service}}",v="{{.Version}}"})
`))
	if err != nil {
		t.Fatal(err)
	}
	src := sourceFunc(func(_ context.Context, query string, start, end time.Time, _ time.Duration) ([]prom.Series, error) {
		if !strings.Contains(query, `ns="shop"`) {
			t.Errorf("query %s lacks the var", query)
		}
		return []prom.Series{
			{Labels: map[string]string{"queue": "a"}, Points: []prom.Point{{T: start, V: 1}, {T: end, V: 2}}},
			{Labels: map[string]string{"queue": "b"}, Points: []prom.Point{{T: start, V: 3}, {T: end, V: 1}}},
		}, nil
	})
	e := newCompareEnv(t, src, set)
	w := e.do(t, req{method: "GET", path: comparePath})
	body := w.Body.String()
	if w.Code != http.StatusOK || strings.Contains(body, "Request rate") || !strings.Contains(body, "Queue depth") {
		t.Fatalf("GET: %d; want only the configured signal\n%s", w.Code, body)
	}
	for _, want := range []string{`baseline v1 {queue=&#34;a&#34;}`, `canary v2 {queue=&#34;b&#34;}`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks the line name %q", want)
		}
	}
	if paths := seriesPaths(body); len(paths["baseline"]) != 4 || len(paths["canary"]) != 4 {
		t.Errorf("lines %v: want 2 per side, side by side and overlaid", paths)
	}
}

func TestComparePageBadQuery(t *testing.T) {
	e := newCompareEnv(t, sourceFunc(func(context.Context, string, time.Time, time.Time, time.Duration) ([]prom.Series, error) {
		t.Error("a bad page queried the store")
		return nil, nil
	}), compare.SignalSet{})
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"nothing", "", []string{"service is required", "env is required", "canary is required", "from is required"}},
		{"bad version", "service=checkout&env=prod&canary=v2%22%7D&from=1795428000000", []string{"canary"}},
		{"from after to", "service=s&env=e&canary=v&from=1795430100000&to=1795428000000", []string{"is not before"}},
		{"from in the future", "service=s&env=e&canary=v&from=253402300799000", []string{"is not before"}},
		{"malformed", "service=%zz", []string{"malformed query string"}},
		{"span too long", "service=s&env=e&canary=v&from=1000&to=1795430100000", []string{"longer than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, req{method: "GET", path: "/compare?" + tc.query})
			if w.Code != http.StatusBadRequest {
				t.Fatalf("GET: %d, want 400\n%s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q, want an HTML error page", ct)
			}
			body := w.Body.String()
			for _, want := range append(tc.want, "400 Bad Request") {
				if !strings.Contains(body, want) {
					t.Errorf("error page lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

// TestComparePageCancelled: a store that never answers costs the page its
// panels, not the request: the queries end with the request's deadline
// (or compareTimeout, whichever is first) and each panel says so.
func TestComparePageCancelled(t *testing.T) {
	src := sourceFunc(func(ctx context.Context, _ string, _, _ time.Time, _ time.Duration) ([]prom.Series, error) {
		<-ctx.Done()
		return nil, gohere.Errorf(gohere.Unavailable, "prometheus: %w", ctx.Err())
	})
	e := newCompareEnv(t, src, compare.SignalSet{})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, httptest.NewRequestWithContext(ctx, "GET", comparePath, nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "query failed: prometheus: context deadline exceeded") {
		t.Errorf("GET with a hanging store: %d\n%s", w.Code, w.Body)
	}
}

func TestDeployPageLinksCompare(t *testing.T) {
	e := newEnv(t, nil) // GO HERE points to Grafana there
	old := e.create(t, `{"service": "checkout", "env": "prod", "version": "v1"}`)
	e.finish(t, old.ID, "succeeded")
	d := e.create(t, `{"service": "checkout", "env": "prod", "version": "v2"}`)
	w := e.do(t, req{method: "GET", path: "/deploys/" + d.ID})
	if w.Code != http.StatusOK {
		t.Fatalf("GET deploy page: %d", w.Code)
	}
	body := w.Body.String()
	want := `<a href="/compare?service=checkout&amp;env=prod&amp;baseline=v1&amp;canary=v2&amp;from=` +
		strconv.FormatInt(d.StartedAt.Add(-compare.Margin).UnixMilli(), 10) + `&amp;to=now&amp;start=` +
		strconv.FormatInt(d.StartedAt.UnixMilli(), 10) + `">`
	if !strings.Contains(body, want) {
		t.Errorf("deploy page lacks the compare link %s", want)
	}
	if !strings.Contains(body, `class="go-here" href="https://grafana.example/`) {
		t.Error("deploy page lost its GO HERE link")
	}
}

// BenchmarkComparePage: one view of the page, 6 signals × 2 sides of 141
// points, the store answering at once: the cost of gohere's own part.
func BenchmarkComparePage(b *testing.B) {
	e := newCompareEnv(b, sourceFunc(ramp), compare.SignalSet{})
	for b.Loop() {
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, httptest.NewRequestWithContext(b.Context(), "GET", comparePath, nil))
		if w.Code != http.StatusOK {
			b.Fatalf("GET: %d", w.Code)
		}
	}
}
