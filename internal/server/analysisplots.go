package server

import (
	"context"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/plot"
)

// analysisPlotTimeout bounds all plot queries of one deploy page: a slow
// store shows as messages under the metrics, not as a page that hangs.
const analysisPlotTimeout = 10 * time.Second

// metricPlot is one value metric of an analysis' latest interval: baseline
// and canary overlaid on the canary window, or, in Problem, why not.
type metricPlot struct {
	Metric   string
	Shifted  string // how far the baseline was moved onto the canary window; empty: not moved
	Chart    template.HTML
	Problem  string
	baseline lineQuery
	canary   lineQuery
}

// plotAnalyses draws the value metrics of each analysis' latest interval by
// running its recorded queries again: the judged series are not stored.
// Rate metrics are judged on counts and have no single series to draw.
func (s *Server) plotAnalyses(ctx context.Context, views []analysisView) {
	var lines []*lineQuery
	for i := range views {
		v := &views[i]
		if v.Report == nil {
			continue
		}
		for _, m := range v.Report.Metrics {
			if !m.Rate {
				v.Plots = append(v.Plots, newMetricPlot(m.Name, v.Queries, v.BaselineVersion, v.CanaryVersion))
			}
		}
		for j := range v.Plots {
			lines = append(lines, &v.Plots[j].baseline, &v.Plots[j].canary)
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

func newMetricPlot(metric string, queries []analysis.Query, baselineVersion, canaryVersion string) metricPlot {
	p := metricPlot{
		Metric:   metric,
		baseline: recordedLine(queries, metric, analysis.RoleBaseline, baselineVersion),
		canary:   recordedLine(queries, metric, analysis.RoleCanary, canaryVersion),
	}
	// In before_after mode the baseline window lies earlier: move its
	// points onto the canary's time axis so that the lines overlap.
	if shift := p.canary.from.Sub(p.baseline.from); p.baseline.Problem == "" && p.canary.Problem == "" && shift != 0 {
		p.baseline.shift = shift
		p.Shifted = signedDuration(shift)
		p.baseline.name += " (shifted " + p.Shifted + ")"
	}
	return p
}

// recordedLine is the recorded query of a value metric's side.
func recordedLine(queries []analysis.Query, metric, role, version string) lineQuery {
	l := lineQuery{name: strings.TrimSpace(role + " " + version), class: role, scale: 1}
	i := slices.IndexFunc(queries, func(q analysis.Query) bool { return q.Metric == metric && q.Role == role && q.Part == "" })
	if i < 0 {
		l.Problem = "the interval recorded no query"
		return l
	}
	q := queries[i]
	step, err := time.ParseDuration(q.Step)
	if err != nil || step <= 0 || !q.End.After(q.Start) {
		l.Problem = "the recorded window or step (" + q.Step + ") cannot be queried"
		return l
	}
	l.Query, l.from, l.to, l.step = q.Query, q.Start, q.End, step
	return l
}

// draw overlays both sides, or says why a side is missing: a chart with
// one line would read like a comparison that found nothing.
func (p *metricPlot) draw() {
	var problems []string
	for _, l := range []*lineQuery{&p.baseline, &p.canary} {
		if l.Problem != "" {
			problems = append(problems, l.name+": "+l.Problem)
		}
	}
	if len(problems) > 0 {
		p.Problem = strings.Join(problems, "; ")
		return
	}
	p.Chart = plot.Chart{
		Title: p.Metric, Series: append(slices.Clone(p.baseline.series), p.canary.series...),
		From: p.canary.from, To: p.canary.to, Width: 520, Height: 220,
	}.SVG()
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
