package analysis_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/tsdbtest"
	"github.com/gohere/gohere/judge"
)

// counters are request counters every 10 s for an hour from start: v1
// serves 3 requests a scrape, all 200; v2 serves 5 OK and 1 error. v1 never
// failed, so its 5xx series does not exist.
func counters(start time.Time) []tsdbtest.Sample {
	series := []struct {
		version, code string
		per           float64
	}{{"v1", "200", 3}, {"v2", "200", 5}, {"v2", "500", 1}}
	var out []tsdbtest.Sample
	for _, s := range series {
		smp := tsdbtest.Sample{Labels: map[string]string{"__name__": "http_requests_total", "service": "checkout",
			"version": s.version, "code": s.code}}
		for k := range 361 {
			smp.Timestamps = append(smp.Timestamps, start.Add(time.Duration(k)*10*time.Second).UnixMilli())
			smp.Values = append(smp.Values, s.per*float64(k))
		}
		out = append(out, smp)
	}
	return out
}

const countsConfig = `analysis:
  step: %s
  vars: {window: %s}
metrics:
  - name: error_rate
    numerator: 'sum(increase(http_requests_total{service="{{.Service}}",version="{{.Version}}",code=~"5.."}[{{.Vars.window}}]))'
    denominator: 'sum(increase(http_requests_total{service="{{.Service}}",version="{{.Version}}"}[{{.Vars.window}}]))'
    direction: increase
  - name: ghost_rate
    numerator: 'sum(increase(ghost_requests_total{version="{{.Version}}",code=~"5.."}[{{.Vars.window}}]))'
    denominator: 'sum(increase(ghost_requests_total{version="{{.Version}}"}[{{.Vars.window}}]))'
  - name: typo_rate
    numerator: 'sum(increase(http_requets_total{service="{{.Service}}",version="{{.Version}}"}[{{.Vars.window}}]))'
    denominator: 'sum(increase(http_requests_total{service="{{.Service}}",version="{{.Version}}"}[{{.Vars.window}}]))'
`

// TestRateCounts: a rate metric's totals are the events of the window,
// whatever the query's range window and the step, against a real
// VictoriaMetrics; an error counter that does not exist is 0 errors of the
// requests, and a metric with neither series is NoData.
func TestRateCounts(t *testing.T) {
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, counters(start))
	src, err := prom.New(prom.Options{URL: vm.URL()})
	if err != nil {
		t.Fatal(err)
	}
	// 120 scrapes in (from, to].
	from, to := start.Add(20*time.Minute), start.Add(40*time.Minute)
	target := analysis.Target{Service: "checkout", Env: "prod", Baseline: "v1", Canary: "v2"}
	wantB, wantC := judge.Counts{Numerator: 0, Denominator: 360}, judge.Counts{Numerator: 120, Denominator: 720}

	for _, c := range []struct{ window, step string }{{"5m", "1m"}, {"30s", "2m"}, {"1m", "1m"}, {"45s", "20s"}} {
		t.Run("window "+c.window+" step "+c.step, func(t *testing.T) {
			cfg, err := judge.LoadConfig(strings.NewReader(fmt.Sprintf(countsConfig, c.step, c.window)))
			if err != nil {
				t.Fatal(err)
			}
			res, err := analysis.JudgeWindow(t.Context(), src, nil, cfg, target, from, to)
			if err != nil {
				t.Fatalf("JudgeWindow: %v", err)
			}
			byName := map[string]judge.MetricResult{}
			for _, m := range res.Report.Metrics {
				byName[m.Name] = m
			}
			er := byName["error_rate"]
			if er.Baseline.Counts == nil || er.Canary.Counts == nil {
				t.Fatalf("error_rate %s (%s): no counts", er.Label, er.Reason)
			}
			if diff := cmp.Diff([2]judge.Counts{wantB, wantC}, [2]judge.Counts{*er.Baseline.Counts, *er.Canary.Counts}); diff != "" {
				t.Errorf("baseline, canary counts (-want +got):\n%s", diff)
			}
			if er.Label != judge.LabelHigh {
				t.Errorf("error_rate %s (%s), want High: 120 of 720 against 0 of 360", er.Label, er.Reason)
			}
			if g := byName["ghost_rate"]; g.Label != judge.LabelNoData || !strings.Contains(g.Reason, "no series for") {
				t.Errorf("ghost_rate %s (%s), want NoData naming the query", g.Label, g.Reason)
			}
			// No numerator series on either side: counted as 0, but said.
			if !slices.ContainsFunc(res.Report.Warnings, func(w string) bool {
				return strings.HasPrefix(w, "metric typo_rate: the numerator") && strings.Contains(w, "no series on either side")
			}) {
				t.Errorf("typo_rate (%s): no warning that its numerator has no series on either side in %q", byName["typo_rate"].Label, res.Report.Warnings)
			}
			for _, q := range res.Queries {
				if q.Metric == "error_rate" && (!q.Start.Equal(to) || !strings.Contains(q.Query, "[1200s]")) {
					t.Errorf("query %s at %s–%s, want one evaluation at the end over [1200s]", q.Query, q.Start, q.End)
				}
			}

			// What adding up the range query's points gives instead: right
			// only when the window equals the step.
			step, _ := time.ParseDuration(c.step)
			ss, err := src.QueryRange(t.Context(), `sum(increase(http_requests_total{version="v1"}[`+c.window+`]))`, from, to, step)
			if err != nil || len(ss) != 1 {
				t.Fatalf("range query: %d series, %v", len(ss), err)
			}
			var summed float64
			for _, p := range ss[0].Points {
				summed += p.V
			}
			t.Logf("baseline requests: %v; adding up the points of the range query gives %v", wantB.Denominator, summed)
		})
	}
}
