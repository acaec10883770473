package server_test

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

var (
	updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")
	tags         = regexp.MustCompile(`<[^>]*>`)
	pCells       = regexp.MustCompile(`<td class="p[^"]*">[^<]*</td>`)
)

// unitsConfig declares a metric of every unit, and one without.
const unitsConfig = `judge: gohere
groups: {latency: 50, errors: 30, saturation: 20}
metrics:
  - {name: p99_latency, query: q, unit: seconds, groups: [latency], effect_size: {allowed_increase: 1.1}}
  - {name: db_time, query: q, unit: milliseconds, groups: [latency]}
  - {name: error_rate, numerator: n, denominator: d, unit: ratio, groups: [errors]}
  - {name: memory, query: q, unit: bytes, groups: [saturation]}
  - {name: cpu_busy, query: q, unit: percent, groups: [saturation]}
  - {name: goroutines, query: q, unit: count, groups: [saturation]}
  - {name: requests, query: q, unit: per_second, groups: [saturation], muted: true}
  - {name: queue_depth, query: q, groups: [saturation]}
`

// unitsReport is a failing report over unitsConfig's metrics.
func unitsReport() judge.Report {
	value := func(name string, label judge.Label, b, c, est, lo, hi, rel float64) judge.MetricResult {
		m := judge.MetricResult{Name: name, Label: label, Reason: string(label), Direction: judge.Increase,
			Test:          &judge.Test{PValue: 0.004, PAdjusted: 0.012, Estimate: est, CI: &judge.Interval{Low: lo, High: hi, Level: 0.98}},
			RelativeShift: ptr(rel)}
		m.Baseline.N, m.Canary.N, m.Baseline.Mean, m.Canary.Mean, m.Baseline.Median = 33810, 120000, b, c, b
		return m
	}
	requests := value("requests", judge.LabelPass, 1234.4, 123.46, -1110.94, -1200, -1000, 0.9)
	requests.Muted = true
	return judge.Report{Judge: judge.ModeGohere, Verdict: gohere.VerdictFail, Score: 20, Pass: 95, Marginal: 75,
		Reasons: []string{"p99_latency is High"},
		Groups: []judge.GroupScore{{Name: "latency", Weight: 50, Score: 0}, {Name: "errors", Weight: 30, Score: 80},
			{Name: "saturation", Weight: 20, Score: 100}},
		Metrics: []judge.MetricResult{
			value("p99_latency", judge.LabelHigh, 0.14893, 0.19401, 0.0451, 0.0302, 0.0598, 0.303),
			value("db_time", judge.LabelPass, 12.5, 12.5, 2.011e-14, -0.25, 0.25, 1.6e-15),
			{Name: "error_rate", Rate: true, Label: judge.LabelHigh, Reason: "High", Direction: judge.Increase,
				Baseline: judge.Side{Counts: &judge.Counts{Numerator: 127, Denominator: 33810}, RateValue: ptr(127.0 / 33810)},
				Canary:   judge.Side{Counts: &judge.Counts{Numerator: 1250, Denominator: 25000}, RateValue: ptr(0.05)},
				Test:     &judge.Test{PValue: 1e-9, PAdjusted: 3e-9, Estimate: 0.05 - 127.0/33810}, RelativeShift: ptr(12.3)},
			value("memory", judge.LabelPass, 3.5*1024*1024*1024, 3.6*1024*1024*1024, 0.1*1024*1024*1024, -50e6, 200e6, 0.028),
			value("cpu_busy", judge.LabelLow, 42.5, 30.25, -12.25, -14, -10, 0.288),
			value("goroutines", judge.LabelPass, 1500, 1512, 12, -3, 27, 0.008),
			requests,
			value("queue_depth", judge.LabelPass, 0.0037563, 0.0040001, 0.00024, -0.0001, 0.0006, 0.064),
		}}
}

// TestReportUnitsGolden: values, shifts and CIs of the metrics table are
// printed in their metric's unit, to sensible precision, counts with
// separators and never in exponent form, noise as no change
// (testdata/report_units.golden; go test -run TestReportUnitsGolden -update
// rewrites it).
func TestReportUnitsGolden(t *testing.T) {
	e, id := reportDeploy(t, unitsConfig, store.Interval{Verdict: gohere.VerdictFail, Score: 20, BaselineSamples: 33810,
		CanarySamples: 120000, Report: reportJSON(t, unitsReport())})
	table := "<table class=\"metrics\">" + cut(t, getPage(t, e, "/deploys/"+id), `<table class="metrics">`, "</table>") + "</table>\n"
	table = strings.ReplaceAll(table, "<tr", "\n<tr") // a row a line: a diff names the metric
	golden(t, "report_units.golden", table)
	text := tags.ReplaceAllString(table, "|")
	for _, want := range []string{"148.9 ms| → |194.0 ms", "+45.10 ms (+30.3 %)", "0.3756 %| → |5.000 %", "3.500 GiB| → |3.600 GiB",
		"42.50 %| → |30.25 %", "−12.25 pp (−28.8 %)", "[−14.00 pp, −10.00 pp]", "1,500| → |1,512", "1,234/s| → |123.5/s",
		"127 / 33,810", "|no change|", "0.003756| → |0.004"} {
		if !strings.Contains(text, want) {
			t.Errorf("the metrics table lacks %q", want)
		}
	}
	// Tiny p-values are written with exponents on purpose; nothing else is.
	if bad := regexp.MustCompile(`[0-9]e[-+][0-9]`).FindString(pCells.ReplaceAllString(table, "")); bad != "" {
		t.Errorf("%q: a number in exponent form", bad)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, d)
	}
}

// TestReportAtAGlance: the groups as one bar, each as wide as its weight
// and coloured by its score against the thresholds; the score of each
// interval as a chart with the thresholds; a muted metric marked muted.
func TestReportAtAGlance(t *testing.T) {
	r := unitsReport()
	e, id := reportDeploy(t, unitsConfig,
		store.Interval{Verdict: gohere.VerdictPass, Score: 100, BaselineSamples: 10, CanarySamples: 10},
		store.Interval{Verdict: gohere.VerdictNoData, BaselineSamples: 10},
		store.Interval{Verdict: gohere.VerdictFail, Score: 20, BaselineSamples: 20, CanarySamples: 20, Report: reportJSON(t, r)})
	body := getPage(t, e, "/deploys/"+id)

	bar := cut(t, body, `<svg xmlns="http://www.w3.org/2000/svg" class="chart bar"`, "</svg>")
	for _, want := range []string{
		`<g class="segment fail"><title>latency: weight 50, score 0</title><rect x="0.0" y="0" width="260.0"`,
		`<g class="segment marginal"><title>errors: weight 30, score 80</title><rect x="260.0" y="0" width="156.0"`,
		`<g class="segment pass"><title>saturation: weight 20, score 100</title><rect x="416.0" y="0" width="104.0"`,
	} {
		if !strings.Contains(bar, want) {
			t.Errorf("group bar lacks %q:\n%s", want, bar)
		}
	}
	groups := cut(t, body, `<table class="groups">`, "</table>")
	if !strings.Contains(groups, `<tr class="group-marginal"><td>errors</td>`) {
		t.Errorf("the groups table does not rate errors marginal:\n%s", groups)
	}

	chart := cut(t, body, `<figure class="score-chart">`, "</figure>")
	for _, want := range []string{`aria-label="score per interval"`, `<g class="rule pass">`, "pass 95", "marginal 75", `class="series score"`} {
		if !strings.Contains(chart, want) {
			t.Errorf("score chart lacks %q:\n%s", want, chart)
		}
	}
	// Three intervals, the NoData one a gap: two segments of one point.
	if d := cut(t, chart, `<path class="series score" fill="none" d="`, `"`); strings.Count(d, "M") != 2 || strings.Contains(d, "L") {
		t.Errorf("score path %q: want the NoData interval as a gap between two points", d)
	}

	row := cut(t, cut(t, body, `<table class="metrics">`, "</table>"), `<tr class="label-Pass muted">`, "</tr>")
	if !strings.Contains(row, `requests <small class="muted-mark">muted: not scored</small>`) {
		t.Errorf("the muted metric is not marked muted:\n%s", row)
	}
}

// TestReportMetricFilter: All / failing / no data are links with a query
// parameter that pick the table's rows without JavaScript; an unknown
// value is a 400 page that says why.
func TestReportMetricFilter(t *testing.T) {
	r := unitsReport()
	r.Metrics = append(r.Metrics, judge.MetricResult{Name: "disk", Label: judge.LabelNoData, Reason: "no canary data"},
		judge.MetricResult{Name: "must", Label: judge.LabelNoDataFail, Reason: "no data"})
	e, id := reportDeploy(t, unitsConfig, store.Interval{Verdict: gohere.VerdictFail, Score: 20, BaselineSamples: 20,
		CanarySamples: 20, Report: reportJSON(t, r)})
	rows := func(query string) []string {
		table := cut(t, getPage(t, e, "/deploys/"+id+query), `<table class="metrics">`, "</table>")
		var names []string
		for _, row := range strings.Split(table, "<tr class=\"label-")[1:] {
			name := cut(t, row, "<td>", "</td>")
			name, _, _ = strings.Cut(name, " <small")
			names = append(names, name)
		}
		return names
	}
	for query, want := range map[string][]string{
		"":                 {"p99_latency", "db_time", "error_rate", "memory", "cpu_busy", "goroutines", "requests", "queue_depth", "disk", "must"},
		"?metrics=all":     {"p99_latency", "db_time", "error_rate", "memory", "cpu_busy", "goroutines", "requests", "queue_depth", "disk", "must"},
		"?metrics=failing": {"p99_latency", "error_rate", "cpu_busy", "must"},
		"?metrics=nodata":  {"disk", "must"},
	} {
		if d := cmp.Diff(want, rows(query)); d != "" {
			t.Errorf("%q: rows (-want +got):\n%s", query, d)
		}
	}
	page := getPage(t, e, "/deploys/"+id+"?metrics=failing")
	filter := cut(t, page, `<p class="metric-filter">`, "</p>")
	for _, want := range []string{`<a href="?metrics=all#analysis-`, `<strong aria-current="page">failing</strong>`,
		`<a href="?metrics=nodata#analysis-`, "(4 of 10 shown)"} {
		if !strings.Contains(filter, want) {
			t.Errorf("filter lacks %q:\n%s", want, filter)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the page has a script")
	}

	w := e.do(t, req{method: "GET", path: "/deploys/" + id + "?metrics=broken"})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "want all, failing or nodata") ||
		!strings.Contains(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("?metrics=broken: %d %s, want a 400 page naming the allowed values:\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}
