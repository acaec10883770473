package server

import (
	"cmp"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/plot"
	"github.com/gohere/gohere/judge"
)

// This file prints a metric's numbers in the unit its config declares:
// "148.9 ms", "0.5181 %", "1.500 MiB", "12.35/s", negative with "−" as the
// relative shift. A metric without a unit gets formatNum's plain numbers.

// inUnit formats a value of a metric with unit u to 4 significant digits
// in the scale that suits it (0.1489 seconds is "148.9 ms").
func inUnit(v float64, u judge.Unit) string {
	if u == "" || math.IsNaN(v) || math.IsInf(v, 0) {
		return formatNum(v)
	}
	if u == judge.UnitCount && v == math.Trunc(v) {
		return count(v)
	}
	base := toBase(v, u)
	div, suffix := unitScale(u, math.Abs(base))
	return signed(base/div, false) + suffix
}

// diffInUnit formats a difference of two values (a shift, a CI bound) with
// its sign; a difference of percentages is in percentage points.
func diffInUnit(v float64, u judge.Unit) string {
	if u == "" || math.IsNaN(v) || math.IsInf(v, 0) {
		s := formatNum(v)
		if rest, ok := strings.CutPrefix(s, "-"); ok {
			return "−" + rest
		}
		if v > 0 {
			s = "+" + s
		}
		return s
	}
	base := toBase(v, u)
	div, suffix := unitScale(u, math.Abs(base))
	if suffix == " %" {
		suffix = " pp"
	}
	return signed(base/div, true) + suffix
}

// axisInUnit formats a y-axis tick in the scale of the axis' largest tick
// ref, so that one axis does not mix "900 ms" and "1 s", to 3 digits.
func axisInUnit(u judge.Unit) func(v, ref float64) string {
	return func(v, ref float64) string {
		if u == "" {
			return compact(v)
		}
		div, suffix := unitScale(u, math.Abs(toBase(ref, u)))
		return compact(toBase(v, u)/div) + suffix
	}
}

// toBase converts to the unit that unitScale scales from: milliseconds to
// seconds, a ratio to a percentage.
func toBase(v float64, u judge.Unit) float64 {
	switch u {
	case judge.UnitMilliseconds:
		return v / 1000
	case judge.UnitRatio:
		return 100 * v
	}
	return v
}

// unitScale is the divisor and suffix for a value of size a (in toBase's
// unit).
func unitScale(u judge.Unit, a float64) (div float64, suffix string) {
	switch u {
	case judge.UnitSeconds, judge.UnitMilliseconds:
		switch {
		case a == 0 || a >= 1:
			return 1, " s"
		case a >= 1e-3:
			return 1e-3, " ms"
		case a >= 1e-6:
			return 1e-6, " µs"
		}
		return 1e-9, " ns"
	case judge.UnitBytes:
		div, suffix = 1, " B"
		for _, s := range []string{" KiB", " MiB", " GiB", " TiB", " PiB"} {
			if a < 1024*div {
				break
			}
			div, suffix = div*1024, s
		}
		return div, suffix
	case judge.UnitPercent, judge.UnitRatio:
		return 1, " %"
	case judge.UnitPerSecond:
		return 1, "/s"
	}
	return 1, ""
}

// signed writes v to 4 significant digits, trailing zeros kept ("194.0"),
// whole digits with thousands separators, and a sign: "−" for a negative
// value, "+" for a positive one when plus.
func signed(v float64, plus bool) string {
	sign := ""
	switch {
	case v < 0:
		sign = "−"
	case v > 0 && plus:
		sign = "+"
	}
	return sign + sig4(math.Abs(v))
}

func sig4(a float64) string {
	if a == 0 {
		return "0"
	}
	// Rounded first, so that 999.96 is "1,000", not "1000.0".
	p := math.Pow(10, 3-math.Floor(math.Log10(a)))
	if r := math.Round(a*p) / p; r > 0 && !math.IsInf(p, 0) {
		a = r
	}
	decimals := 3 - int(math.Floor(math.Log10(a)))
	switch {
	case decimals < 0:
		decimals = 0
	case decimals > 8: // below 1e-5 of the scale: too small for fixed digits
		return strconv.FormatFloat(a, 'g', 4, 64)
	}
	return group(strconv.FormatFloat(a, 'f', decimals, 64))
}

// compact is an axis label: 3 significant digits, no trailing zeros, whole
// numbers with separators.
func compact(v float64) string {
	if v == 0 {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', max(0, 2-int(math.Floor(math.Log10(math.Abs(v))))), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return group(s)
}

// metricFilter picks the rows of a report's metrics table: the page's
// ?metrics= parameter, so that the filter works without JavaScript.
type metricFilter string

const (
	filterAll     metricFilter = "all"
	filterFailing metricFilter = "failing"
	filterNoData  metricFilter = "nodata"
)

var metricFilters = []struct {
	value metricFilter
	label string
}{{filterAll, "all"}, {filterFailing, "failing"}, {filterNoData, "no data"}}

// parseMetricFilter reads ?metrics=; empty is all.
func parseMetricFilter(s string) (metricFilter, error) {
	if s == "" {
		return filterAll, nil
	}
	for _, f := range metricFilters {
		if string(f.value) == s {
			return f.value, nil
		}
	}
	return "", gohere.Errorf(gohere.Invalid, "metrics=%q: want all, failing or nodata", s)
}

// keeps says whether a metric with label l is a row under the filter: a
// failing metric is High, Low or NoDataFail; a metric without data is
// NoData, NoDataFail or Error.
func (f metricFilter) keeps(l judge.Label) bool {
	switch f {
	case filterFailing:
		return l == judge.LabelHigh || l == judge.LabelLow || l == judge.LabelNoDataFail
	case filterNoData:
		return l == judge.LabelNoData || l == judge.LabelNoDataFail || l == judge.LabelError
	}
	return true
}

// filterLink is one link of the metrics table's filter.
type filterLink struct {
	Value   string
	Label   string
	Current bool
}

// Filters are the links of the metrics table's filter, the current one
// marked.
func (v analysisView) Filters() []filterLink {
	out := make([]filterLink, len(metricFilters))
	for i, f := range metricFilters {
		out[i] = filterLink{Value: string(f.value), Label: f.label, Current: f.value == v.current()}
	}
	return out
}

func (v analysisView) current() metricFilter { return cmp.Or(v.filter, filterAll) }

// FilterLabel names the current filter for an empty table: "No failing
// metric".
func (v analysisView) FilterLabel() string {
	for _, f := range metricFilters {
		if f.value == v.current() && f.value != filterAll {
			return f.label
		}
	}
	return "judged"
}

// Shown are the report's metrics the filter keeps.
func (v analysisView) Shown() []judge.MetricResult {
	if v.Report == nil {
		return nil
	}
	var out []judge.MetricResult
	for _, m := range v.Report.Metrics {
		if v.current().keeps(m.Label) {
			out = append(out, m)
		}
	}
	return out
}

// GroupClass rates a group's score against the report's thresholds:
// pass, marginal, fail, or nodata.
func (v analysisView) GroupClass(g judge.GroupScore) string {
	switch {
	case g.NoData:
		return "nodata"
	case v.Report != nil && g.Score >= v.Report.Pass:
		return "pass"
	case v.Report != nil && g.Score >= v.Report.Marginal:
		return "marginal"
	}
	return "fail"
}

// GroupBar draws the report's groups as one bar, each as wide as its
// weight and coloured by its score (see GroupClass).
func (v analysisView) GroupBar() template.HTML {
	if v.Report == nil {
		return ""
	}
	bar := plot.Bar{Title: "groups by weight and score", Width: 520}
	for _, g := range v.Report.Groups {
		score := "no data"
		if !g.NoData {
			score = num(g.Score)
		}
		bar.Segments = append(bar.Segments, plot.Segment{Label: g.Name + " " + score, Weight: g.Weight,
			Class: v.GroupClass(g), Title: g.Name + ": weight " + num(g.Weight) + ", score " + score})
	}
	return bar.SVG()
}

// ScoreChart draws the score of each interval over time with the pass and
// marginal thresholds; a NoData interval is a gap. Empty below two
// intervals: one point is no trend.
func (v analysisView) ScoreChart() template.HTML {
	if len(v.Intervals) < 2 {
		return ""
	}
	s := plot.Series{Name: "score", Class: "score"}
	for _, iv := range v.Intervals {
		score := iv.Score
		if iv.Verdict == gohere.VerdictNoData {
			score = math.NaN()
		}
		s.Points = append(s.Points, plot.Point{T: iv.End, V: score})
	}
	c := plot.Chart{Title: "score per interval", Series: []plot.Series{s}, Width: 520, Height: 160, YFrom: 0, YTo: 100,
		Format: func(v, _ float64) string { return compact(v) }}
	if v.Report != nil {
		c.Rules = []plot.Rule{{V: v.Report.Pass, Label: "pass " + num(v.Report.Pass), Class: "pass"},
			{V: v.Report.Marginal, Label: "marginal " + num(v.Report.Marginal), Class: "marginal"}}
	}
	return c.SVG()
}
