package server

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"

	"github.com/gohere/gohere/internal/plot"
	"github.com/gohere/gohere/judge"
)

// sequentialView is the anytime-valid evidence of a sequential analysis'
// latest look (judge.SequentialEvidence, stored with its report), with one
// chart per metric of its confidence sequence over the looks.
type sequentialView struct {
	Alpha   float64
	Fits    bool
	Looks   int
	Metrics []sequentialMetricView
}

type sequentialMetricView struct {
	judge.SequentialMetric
	Last    judge.SequentialPoint
	CS      string // the last look's confidence sequence, in words
	Allowed string
	Chart   template.HTML
}

// Sequential decodes the sequential evidence of the latest interval; nil
// when the analysis is not sequential (or nothing was judged yet).
func (v analysisView) Sequential() *sequentialView {
	if v.Latest == nil || len(v.Latest.Report) == 0 {
		return nil
	}
	var stored struct {
		Sequential *judge.SequentialEvidence `json:"sequential"`
	}
	if err := json.Unmarshal(v.Latest.Report, &stored); err != nil || stored.Sequential == nil {
		return nil
	}
	ev := stored.Sequential
	out := &sequentialView{Alpha: ev.Alpha, Fits: ev.Fits}
	for _, m := range ev.Metrics {
		mv := sequentialMetricView{SequentialMetric: m, Allowed: m.Allowed.Text(m.Rate)}
		if n := len(m.Looks); n > 0 {
			mv.Last = m.Looks[n-1]
			mv.CS = mv.Last.CS.Text(m.Rate)
			out.Looks = max(out.Looks, n)
		}
		mv.Chart = sequentialChart(m)
		out.Metrics = append(out.Metrics, mv)
	}
	return out
}

// sequentialChart draws a metric's confidence sequence over the looks (a
// band that narrows), its tolerance band's edges as threshold lines, and
// the looks where the test rejected or the sequence came inside the band.
// A value metric's effect is drawn in percent of the baseline, a rate
// metric's as the ratio of the rates.
func sequentialChart(m judge.SequentialMetric) template.HTML {
	scale, unit, what := 100.0, "%", "relative shift"
	if m.Rate {
		scale, unit, what = 1, "×", "rate ratio"
	}
	val := func(v *float64) float64 {
		if v == nil {
			return math.NaN()
		}
		return *v * scale
	}
	band := plot.Band{Name: "CS", Class: "cs"}
	for _, p := range m.Looks {
		lo, hi := math.NaN(), math.NaN()
		if p.Tested {
			lo, hi = val(p.CS.Low), val(p.CS.High)
		}
		band.Low = append(band.Low, plot.Point{T: p.At, V: lo})
		band.High = append(band.High, plot.Point{T: p.At, V: hi})
	}
	c := plot.BandChart{Chart: plot.Chart{Title: fmt.Sprintf("%s: %s, confidence sequence by look", m.Name, what), Unit: unit},
		Bands: []plot.Band{band}}
	for _, side := range []struct {
		v     *float64
		label string
	}{{m.Allowed.High, "allowed increase"}, {m.Allowed.Low, "allowed decrease"}} {
		if side.v != nil {
			c.Rules = append(c.Rules, plot.Rule{V: val(side.v), Label: side.label, Class: "allowed"})
		}
	}
	for _, mark := range []struct {
		look  int
		label string
	}{{m.RejectedAt, "rejected"}, {m.FitsFrom, "inside the band"}} {
		if mark.look > 0 && mark.look <= len(m.Looks) {
			c.Markers = append(c.Markers, plot.Marker{T: m.Looks[mark.look-1].At, Label: fmt.Sprintf("%s at look %d", mark.label, mark.look)})
		}
	}
	return c.SVG()
}
