package server

import (
	"context"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/plot"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

// analysisPlotTimeout bounds all plot queries of one deploy page: a slow
// store shows as messages under the metrics, not as a page that hangs.
const analysisPlotTimeout = 10 * time.Second

// metricPlot is one judged metric of an analysis' latest interval:
// baseline and canary over time on one y-axis and, for a value metric,
// both distributions with the shift; or, in Problem, why not.
type metricPlot struct {
	Metric       string
	Rate         bool
	Shifted      string // how far the baseline was moved onto the canary window; empty: not moved
	Chart        template.HTML
	Distribution template.HTML
	Problem      string
	// Missing: every problem is missing data, not a failed query: said
	// in grey, as NoData is not a failure.
	Missing bool
	// baseline and canary are a value metric's series, or a rate metric's
	// numerators; baselineOf and canaryOf are a rate metric's
	// denominators.
	baseline, canary     lineQuery
	baselineOf, canaryOf lineQuery
	result               judge.MetricResult
	unit                 judge.Unit
	tolerated            [2]float64 // the shifts the config tolerates; see toleratedShift
	deployStart          time.Time
}

// plotAnalyses draws every judged metric of each analysis' latest interval
// by running its recorded queries again: the judged series are not stored.
func (s *Server) plotAnalyses(ctx context.Context, d gohere.Deploy, views []analysisView) {
	var lines []*lineQuery
	for i := range views {
		v := &views[i]
		if v.Report == nil {
			continue
		}
		for _, m := range v.Report.Metrics {
			p := newMetricPlot(m, *v.Latest, v.Queries, v.BaselineVersion, v.CanaryVersion)
			p.unit, p.deployStart = v.Unit(m.Name), d.StartedAt
			p.tolerated = v.toleratedShift(m)
			v.Plots = append(v.Plots, p)
		}
		for j := range v.Plots {
			p := &v.Plots[j]
			lines = append(lines, &p.baseline, &p.canary)
			if p.Rate {
				lines = append(lines, &p.baselineOf, &p.canaryOf)
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	s.fetchLines(ctx, "deploy page", analysisPlotTimeout, lines)
	for i := range views {
		for j := range views[i].Plots {
			views[i].Plots[j].draw()
		}
	}
}

func newMetricPlot(m judge.MetricResult, iv store.Interval, queries []analysis.Query, baselineVersion, canaryVersion string) metricPlot {
	p := metricPlot{Metric: m.Name, Rate: m.Rate, result: m}
	// A metric judged per label set is named name{label="value",...}: its
	// queries are the metric's, its series those of the set.
	name, labels := splitLabelSet(m.Name)
	if m.Rate {
		p.baseline = recordedLine(queries, iv, name, analysis.RoleBaseline, "numerator", baselineVersion)
		p.canary = recordedLine(queries, iv, name, analysis.RoleCanary, "numerator", canaryVersion)
		p.baselineOf = recordedLine(queries, iv, name, analysis.RoleBaseline, "denominator", baselineVersion)
		p.canaryOf = recordedLine(queries, iv, name, analysis.RoleCanary, "denominator", canaryVersion)
	} else {
		p.baseline = recordedLine(queries, iv, name, analysis.RoleBaseline, "", baselineVersion)
		p.canary = recordedLine(queries, iv, name, analysis.RoleCanary, "", canaryVersion)
	}
	for _, l := range []*lineQuery{&p.baseline, &p.canary, &p.baselineOf, &p.canaryOf} {
		l.labels = labels
	}
	// In before_after mode the baseline window lies earlier: move its
	// points onto the canary's time axis so that the lines overlap.
	if shift := p.canary.from.Sub(p.baseline.from); p.baseline.Problem == "" && p.canary.Problem == "" && shift != 0 {
		p.Shifted = signedDuration(shift)
		for _, l := range []*lineQuery{&p.baseline, &p.baselineOf} {
			l.shift = shift
			l.name += " (shifted " + p.Shifted + ")"
		}
	}
	return p
}

// recordedLine is the recorded query of one side of a metric (part "" for
// a value metric, numerator or denominator for a rate metric's). The
// runner counts a rate metric's events with one instant query whose range
// selectors span the whole window; to draw them over time, those ranges
// are set back to the step, which counts each step's events once.
func recordedLine(queries []analysis.Query, iv store.Interval, metric, role, part, version string) lineQuery {
	l := lineQuery{name: strings.TrimSpace(role + " " + version), class: role, scale: 1}
	i := slices.IndexFunc(queries, func(q analysis.Query) bool { return q.Metric == metric && q.Role == role && q.Part == part })
	if i < 0 {
		l.Problem = "the interval recorded no query"
		return l
	}
	q := queries[i]
	step, err := time.ParseDuration(q.Step)
	if part != "" && q.Start.Equal(q.End) && err == nil && step > 0 {
		from := iv.Start
		if role == analysis.RoleBaseline {
			from = iv.BaselineStart
		}
		if perStep, ok := analysis.WidenRanges(q.Query, step); ok {
			q.Query = perStep
		}
		q.Start = from
	}
	if err != nil || step <= 0 || !q.End.After(q.Start) {
		l.Problem = "the recorded window or step (" + q.Step + ") cannot be queried"
		return l
	}
	l.Query, l.from, l.to, l.step = q.Query, q.Start, q.End, step
	return l
}

// splitLabelSet splits a per-label-set metric name, checkout{route="/cart"},
// into the metric and its labels; a plain name has none (nil).
func splitLabelSet(name string) (string, map[string]string) {
	base, rest, ok := strings.Cut(name, "{")
	if !ok || !strings.HasSuffix(rest, "}") {
		return name, nil
	}
	labels := map[string]string{}
	for rest = strings.TrimSuffix(rest, "}"); rest != ""; {
		key, after, ok := strings.Cut(rest, "=")
		quoted, err := strconv.QuotedPrefix(after)
		if !ok || err != nil {
			return name, nil
		}
		labels[key], _ = strconv.Unquote(quoted)
		rest = strings.TrimPrefix(after[len(quoted):], ",")
	}
	return base, labels
}

// draw overlays both sides on one y-axis, or says why a side is missing:
// a chart with one line would read like a comparison that found nothing.
func (p *metricPlot) draw() {
	// One problem a side: a rate metric's denominator mostly fails as its
	// numerator did.
	sides := [][]*lineQuery{{&p.baseline}, {&p.canary}}
	if p.Rate {
		sides = [][]*lineQuery{{&p.baseline, &p.baselineOf}, {&p.canary, &p.canaryOf}}
		for _, side := range sides {
			// As the runner counts it: an error counter without series
			// (no 5xx yet) is 0 events of requests that have them.
			if num, den := side[0], side[1]; den.Problem == "" && strings.HasPrefix(num.Problem, "no data") {
				num.Problem = ""
			}
		}
	}
	var problems []string
	for _, side := range sides {
		for _, l := range side {
			if l.Problem != "" {
				problems = append(problems, l.name+": "+l.Problem)
				break
			}
		}
	}
	if len(problems) > 0 {
		p.Problem = strings.Join(problems, "; ")
		p.Missing = !slices.ContainsFunc(sides, func(side []*lineQuery) bool {
			return slices.ContainsFunc(side, func(l *lineQuery) bool { return l.Problem != "" && !strings.HasPrefix(l.Problem, "no data") })
		})
		return
	}
	baseline, canary := p.baseline.series, p.canary.series
	if p.Rate {
		baseline = []plot.Series{ratio(p.baseline.name, p.baseline.class, p.baseline.series, p.baselineOf.series)}
		canary = []plot.Series{ratio(p.canary.name, p.canary.class, p.canary.series, p.canaryOf.series)}
	}
	from := p.canary.from
	// The deploy start is marked when it lies just before the window, as
	// the first interval's does, without squeezing a long window.
	if gap := from.Sub(p.deployStart); gap > 0 && gap <= p.canary.to.Sub(from)/2 {
		from = p.deployStart
	}
	format := axisInUnit(p.unit)
	p.Chart = plot.Chart{
		Title: p.Metric + " over time", Format: format, Series: append(slices.Clone(baseline), canary...),
		Markers: []plot.Marker{{T: p.deployStart, Label: "deploy start"}},
		From:    from, To: p.canary.to, Width: 520, Height: 220,
	}.SVG()
	if p.Rate {
		return
	}
	d := plot.Distribution{Title: p.Metric + ": distribution of both sides", Format: format, Width: 520,
		Samples: []plot.Sample{sample(p.baseline.name, p.baseline.class, baseline), sample(p.canary.name, p.canary.class, canary)}}
	if t := p.result.Test; t != nil && t.CI != nil {
		d.Shift = &plot.Shift{Label: "Hodges-Lehmann shift, " + level(t.CI.Level) + " CI, against the tolerated shift",
			Estimate: t.Estimate, Low: t.CI.Low, High: t.CI.High, BandLow: p.tolerated[0], BandHigh: p.tolerated[1]}
	}
	p.Distribution = d.SVG()
}

// ratio is numerator / denominator at each instant both have; an instant
// without requests is a gap, not a rate of 0.
func ratio(name, class string, num, den []plot.Series) plot.Series {
	sum := func(ss []plot.Series) map[time.Time]float64 {
		out := map[time.Time]float64{}
		for _, s := range ss {
			for _, pt := range s.Points {
				if !math.IsNaN(pt.V) && !math.IsInf(pt.V, 0) {
					out[pt.T] += pt.V
				}
			}
		}
		return out
	}
	n, d := sum(num), sum(den)
	ts := make([]time.Time, 0, len(d))
	for t := range d {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, time.Time.Compare)
	s := plot.Series{Name: name, Class: class, Points: make([]plot.Point, 0, len(ts))}
	for _, t := range ts {
		v := math.NaN()
		if d[t] > 0 {
			v = n[t] / d[t]
		}
		s.Points = append(s.Points, plot.Point{T: t, V: v})
	}
	return s
}

// sample is every value of a side's series, for its box plot.
func sample(name, class string, series []plot.Series) plot.Sample {
	s := plot.Sample{Name: name, Class: class}
	for _, ps := range series {
		for _, pt := range ps.Points {
			s.Values = append(s.Values, pt.V)
		}
	}
	return s
}

// toleratedShift is the band of shifts canary − baseline that cannot make
// metric m High or Low: below the config's min_shift of the baseline median
// (gohere mode) or within the effect size's allowed mean ratio, whichever
// is wider; unbounded on the side its direction does not judge. ±Inf
// without a readable config.
func (v analysisView) toleratedShift(m judge.MetricResult) [2]float64 {
	band := [2]float64{math.Inf(-1), math.Inf(1)}
	mc, ok := v.metricConfig(m.Name)
	if !ok {
		return band
	}
	ref := m.Baseline.Median
	if ref == 0 {
		ref = m.Baseline.Mean
	}
	up, down := 0.0, 0.0
	if v.config.Judge == judge.ModeGohere {
		up = *v.config.MinShift * math.Abs(ref)
		down = up
	}
	if e := mc.EffectSize; e.Measure == judge.MeanRatio || e.Measure == "" {
		if e.AllowedIncrease > 1 {
			up = max(up, (e.AllowedIncrease-1)*math.Abs(m.Baseline.Mean))
		}
		if e.AllowedDecrease > 0 && e.AllowedDecrease < 1 {
			down = max(down, (1-e.AllowedDecrease)*math.Abs(m.Baseline.Mean))
		}
	}
	if m.Direction != judge.Decrease {
		band[1] = up
	}
	if m.Direction != judge.Increase {
		band[0] = -down
	}
	return band
}

// signedDuration writes +1h, -30m, +1h30m: a duration without the zero
// units time.Duration.String appends.
func signedDuration(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	s := d.String()
	if d%time.Minute == 0 {
		s = strings.TrimSuffix(s, "0s")
	}
	if d%time.Hour == 0 {
		s = strings.TrimSuffix(s, "0m")
	}
	return sign + s
}
