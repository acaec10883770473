package server_test

import (
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

// reportDeploy records a running deploy v1 → v2 with one analysis of
// config, judged by the runner "vm/19904" in the given intervals (Seq from
// 1), and returns the server showing it.
func reportDeploy(tb testing.TB, config string, ivs ...store.Interval) (e *env, deployID string) {
	tb.Helper()
	db := openStore(tb)
	ctx := tb.Context()
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	d, _, err := db.CreateDeploy(ctx, gohere.Deploy{ID: "d-report", Service: "checkout", Env: "prod", Version: "v2",
		BaselineVersion: "v1", Status: gohere.StatusRunning, StartedAt: start}, "")
	if err != nil {
		tb.Fatal(err)
	}
	a, err := db.CreateAnalysis(ctx, store.Analysis{DeployID: d.ID, Config: config, Service: "checkout", Env: "prod",
		BaselineVersion: "v1", CanaryVersion: "v2", StartAt: start, EndAt: start.Add(30 * time.Minute), Retrospective: true})
	if err != nil {
		tb.Fatal(err)
	}
	l, found, err := db.ClaimDueAnalysis(ctx, "vm/19904", time.Now(), time.Minute)
	if err != nil || !found || l.ID != a.ID {
		tb.Fatalf("claim: %v %v", found, err)
	}
	for i, iv := range ivs {
		iv.Seq = i + 1
		iv.Start, iv.End = start.Add(time.Duration(i)*5*time.Minute), start.Add(time.Duration(i+1)*5*time.Minute)
		iv.BaselineStart, iv.BaselineEnd = iv.Start, iv.End
		iv.Queries, iv.JudgedAt = json.RawMessage("[]"), time.Now()
		p := store.Progress{State: store.AnalysisRunning, NextDueAt: iv.End}
		if i == len(ivs)-1 {
			p = store.Progress{State: store.AnalysisAwaitingDecision}
		}
		if err := db.RecordInterval(ctx, l.Lease, iv, p); err != nil {
			tb.Fatal(err)
		}
	}
	return newPlotEnv(tb, db, nil), d.ID
}

func reportJSON(tb testing.TB, r judge.Report) json.RawMessage {
	tb.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// getPage GETs a page, unescaped and without the cells' data-label
// attributes (the headings of the phone layout), so that a row reads as
// its cells.
func getPage(t *testing.T, e *env, path string) string {
	t.Helper()
	w := e.do(t, req{method: "GET", path: path})
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, w.Code, w.Body)
	}
	return html.UnescapeString(dataLabel.ReplaceAllString(w.Body.String(), ""))
}

var dataLabel = regexp.MustCompile(` data-label="[^"]*"`)

// cut returns the part of body from the first from to the next to.
func cut(t *testing.T, body, from, to string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, from)
	if !ok {
		t.Fatalf("no %q in the page:\n%s", from, body)
	}
	part, _, _ := strings.Cut(rest, to)
	return part
}

// TestReportNoDataIsNotAScore: a NoData verdict, interval and timeline
// entry show "—" and why there was no data, never a score of 0; each NoData
// metric says which side lacked data.
func TestReportNoDataIsNotAScore(t *testing.T) {
	cfg := healthyConfig(t)
	loaded, err := judge.LoadConfig(strings.NewReader(cfg))
	if err != nil {
		t.Fatal(err)
	}
	values := make([]float64, 40)
	for i := range values {
		values[i] = 0.1 + float64(i)/1000
	}
	baseline := judge.Data{"p99_latency": {Values: values}, "cpu": {Values: values}}
	canary := judge.Data{"cpu": {Values: values[:0:0]},
		"error_rate": {Counts: &judge.Counts{Numerator: 1, Denominator: 1000}}}
	r := judge.Judge(loaded, baseline, canary)
	if r.Verdict != gohere.VerdictNoData || len(r.Reasons) == 0 {
		t.Fatalf("the judge says %s %q; the test wants NoData with a reason", r.Verdict, r.Reasons)
	}
	e, id := reportDeploy(t, cfg,
		store.Interval{Verdict: gohere.VerdictNoData, BaselineSamples: 40, CanarySamples: 0},
		store.Interval{Verdict: gohere.VerdictNoData, BaselineSamples: 80, CanarySamples: 0, Report: reportJSON(t, r)})
	body := getPage(t, e, "/deploys/"+id)

	heading := cut(t, body, `<article class="analysis-run"`, "</h3>")
	if want := "<span class=\"score\">—</span> <span class=\"nodata-reason\">no data: " + r.Reasons[0] + "</span>"; !strings.Contains(heading, want) {
		t.Errorf("heading %q, want %q", heading, want)
	}
	if strings.Contains(body, "score 0") {
		t.Errorf("the page shows a score for NoData:\n%s", heading)
	}
	rows := cut(t, body, `<table class="intervals">`, "</table>")
	for _, want := range []string{
		`<td class="score">—</td><td>40 / 0</td><td>host vm, process 19904</td><td>no data: no canary samples</td>`,
		`<td class="score">—</td><td>80 / 0</td><td>host vm, process 19904</td><td>no data: ` + r.Reasons[0] + `</td>`,
	} {
		if !strings.Contains(rows, want) {
			t.Errorf("interval rows lack %q:\n%s", want, rows)
		}
	}
	metrics := cut(t, body, `<table class="metrics">`, "</table>")
	for name, want := range map[string]string{
		"p99_latency": "no canary data",
		"error_rate":  "no baseline data",
		"cpu":         "no canary data",
	} {
		row := cut(t, metrics, "<td>"+name, "</tr>")
		if !strings.Contains(row, `<small class="lacks">`+want+`</small>`) {
			t.Errorf("%s: want %q in its row:\n%s", name, want, row)
		}
	}

	timeline := getPage(t, e, "/")
	canaryCell := cut(t, timeline, `<span class="verdict verdict-NoData">NoData</span>`, "</td>")
	if !strings.HasPrefix(canaryCell, ` <span class="score">—</span>`) || strings.Contains(timeline, `score <span class="score">0`) {
		t.Errorf("timeline canary cell %q, want —, not a score", canaryCell)
	}
}

// TestReportPValues: raw and adjusted p side by side, the adjustment named
// from the analysis' config, the CI with its level, and the column that
// decides highlighted: the adjusted p in gohere mode, the CI in Kayenta's.
func TestReportPValues(t *testing.T) {
	metric := judge.MetricResult{Name: "p99_latency", Label: judge.LabelHigh, Reason: "High",
		Baseline: judge.Side{}, Canary: judge.Side{},
		Test:          &judge.Test{PValue: 0.004, PAdjusted: 0.012, Estimate: 0.045, CI: &judge.Interval{Low: 0.03, High: 0.06, Level: 0.98}},
		RelativeShift: ptr(0.303)}
	metric.Baseline.N, metric.Canary.N = 40, 40
	for _, tt := range []struct {
		name, config string
		mode         judge.Mode
		header       string
		adjCell, ci  string
		est          string
	}{
		{"holm by default", healthyConfig(t), judge.ModeGohere, `<th class="decides">adjusted p (Holm)</th>`,
			`<td class="p decides">0.0120</td>`, `<td>98 % CI <span class="side">[+30.00 ms, +60.00 ms]</span></td>`, "+45.00 ms (+30.3 %)"},
		{"bh named", strings.Replace(healthyConfig(t), "judge: gohere", "judge: gohere\nadjust: bh", 1), judge.ModeGohere,
			`<th class="decides">adjusted p (Benjamini-Hochberg)</th>`, `<td class="p decides">0.0120</td>`, `<td>98 % CI <span class="side">[+30.00 ms, +60.00 ms]</span></td>`, "+45.00 ms (+30.3 %)"},
		{"unreadable config: no unit", "judge: gohere", judge.ModeGohere, `<th class="decides">adjusted p</th>`,
			`<td class="p decides">0.0120</td>`, `<td>98 % CI <span class="side">[+0.03, +0.06]</span></td>`, "+0.045 (+30.3 %)"},
		{"kayenta: the CI decides", healthyConfig(t), judge.ModeKayenta, `<th class="">adjusted p (Holm)</th>`,
			`<td class="p">0.0120</td>`, `<td class="decides">98 % CI <span class="side">[+30.00 ms, +60.00 ms]</span></td>`, "+45.00 ms (+30.3 %)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := judge.Report{Judge: tt.mode, Verdict: gohere.VerdictFail, Score: 40, Reasons: []string{"p99_latency is High"},
				Metrics: []judge.MetricResult{metric}}
			e, id := reportDeploy(t, tt.config, store.Interval{Verdict: gohere.VerdictFail, Score: 40, BaselineSamples: 40, CanarySamples: 40, Report: reportJSON(t, r)})
			table := cut(t, getPage(t, e, "/deploys/"+id), `<table class="metrics">`, "</table>")
			for _, want := range []string{`<th>raw p</th>`, tt.header, `<td class="p">0.0040</td>` + tt.adjCell, tt.ci, tt.est} {
				if !strings.Contains(table, want) {
					t.Errorf("want %q in:\n%s", want, table)
				}
			}
		})
	}
}

// TestReportNumbers: counts are whole, with separators, never in exponent
// form; a shift of floating-point noise is no change; the runner is named
// in words.
func TestReportNumbers(t *testing.T) {
	rate := judge.MetricResult{Name: "error_rate", Rate: true, Label: judge.LabelHigh, Reason: "High",
		Baseline: judge.Side{Counts: &judge.Counts{Numerator: 127, Denominator: 33810}, RateValue: ptr(127.0 / 33810)},
		Canary:   judge.Side{Counts: &judge.Counts{Numerator: 1250000, Denominator: 2500000}, RateValue: ptr(0.5)},
		Test:     &judge.Test{PValue: 1e-9, PAdjusted: 3e-9, Estimate: 0.496}}
	noise := judge.MetricResult{Name: "cpu", Label: judge.LabelPass, Reason: "Pass",
		Test:          &judge.Test{PValue: 0.9, PAdjusted: 1, Estimate: 2.011e-16, CI: &judge.Interval{Low: -0.1, High: 0.1, Level: 0.98}},
		RelativeShift: ptr(2.011e-16)}
	noise.Baseline.N, noise.Canary.N, noise.Baseline.Mean, noise.Canary.Mean = 33810, 120000, 0.25, 0.25
	r := judge.Report{Judge: judge.ModeGohere, Verdict: gohere.VerdictFail, Reasons: []string{"error_rate is High"},
		Metrics: []judge.MetricResult{rate, noise}}
	e, id := reportDeploy(t, healthyConfig(t), store.Interval{Verdict: gohere.VerdictFail, Score: 12.5,
		BaselineSamples: 33810, CanarySamples: 1234567, Report: reportJSON(t, r)})
	body := getPage(t, e, "/deploys/"+id)
	metrics := cut(t, body, `<table class="metrics">`, "</table>")
	for _, want := range []string{
		`<td><span class="side">127 / 33,810</span> · <span class="side">1,250,000 / 2,500,000</span></td>`,
		`<td><span class="side">33,810</span> · <span class="side">120,000</span></td>`,
		"<td>no change</td>",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("want %q in:\n%s", want, metrics)
		}
	}
	for _, bad := range []string{"e+0", "e-14", "e-16 %"} {
		if strings.Contains(metrics, bad) {
			t.Errorf("%q in the metrics:\n%s", bad, metrics)
		}
	}
	rows := cut(t, body, `<table class="intervals">`, "</table>")
	if want := `<td class="score">12.5</td><td>33,810 / 1,234,567</td><td>host vm, process 19904</td>`; !strings.Contains(rows, want) {
		t.Errorf("want %q in:\n%s", want, rows)
	}
	if strings.Contains(body, "vm/19904") {
		t.Errorf("the runner shows as its owner string vm/19904")
	}
}

func ptr[T any](v T) *T { return &v }
