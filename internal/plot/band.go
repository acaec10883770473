package plot

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Band is a shaded range over time between Low and High, such as a
// confidence sequence narrowing look by look. Its edges are drawn as lines
// (so they show in the legend and in print); the area between them is
// filled where both are finite.
type Band struct {
	Name      string
	Class     string
	Low, High []Point // at the same instants
}

// BandChart is a Chart with bands behind its series (thresholds across it
// are the Chart's Rules).
type BandChart struct {
	Chart
	Bands []Band
}

// SVG renders the chart: the bands' edges join the series (and so the
// axes' range and the legend), and each band's area is filled under the
// lines.
func (c BandChart) SVG() template.HTML {
	ch := c.Chart
	ch.Series = nil
	for _, b := range c.Bands {
		ch.Series = append(ch.Series,
			Series{Name: b.Name + " low", Class: "band-edge " + b.Class, Points: b.Low},
			Series{Name: b.Name + " high", Class: "band-edge " + b.Class, Points: b.High})
	}
	ch.Series = append(ch.Series, c.Series...)
	f, ok := ch.frame() // the scale of Chart.SVG, for the areas
	out := string(ch.SVG())
	if !ok {
		return template.HTML(out) // #nosec: Chart.SVG's output
	}
	var areas strings.Builder
	for _, b := range c.Bands {
		for _, d := range areaPaths(b, f.x, f.y) {
			// Presentation attributes, not style: a page's stylesheet may
			// override them, and without one the area is still a light wash.
			fmt.Fprintf(&areas, `<path class="area %s" fill="#0b57d0" fill-opacity="0.2" stroke="none" d="%s"><title>%s</title></path>`,
				esc(b.Class), d, esc(b.Name))
		}
	}
	// Behind every line: right after the plot's background.
	at := strings.Index(out, `<rect class="plot"`)
	if at < 0 {
		return template.HTML(out) // #nosec: Chart.SVG's output
	}
	at += strings.Index(out[at:], "/>") + 2
	return template.HTML(out[:at] + areas.String() + out[at:]) // #nosec: every user string went through esc
}

// areaPaths outlines the band as one closed path per run of instants where
// both edges are finite.
func areaPaths(b Band, sx func(time.Time) float64, sy func(float64) float64) []string {
	var out []string
	var run []int
	flush := func() {
		if len(run) > 0 {
			var s strings.Builder
			for k, i := range run {
				cmd := " L"
				if k == 0 {
					cmd = "M"
				}
				fmt.Fprintf(&s, "%s%s,%s", cmd, num(sx(b.High[i].T)), num(sy(b.High[i].V)))
			}
			for k := len(run) - 1; k >= 0; k-- {
				i := run[k]
				fmt.Fprintf(&s, " L%s,%s", num(sx(b.Low[i].T)), num(sy(b.Low[i].V)))
			}
			out = append(out, s.String()+" Z")
		}
		run = run[:0]
	}
	for i := range min(len(b.Low), len(b.High)) {
		if finite(b.Low[i].V) && finite(b.High[i].V) {
			run = append(run, i)
			continue
		}
		flush()
	}
	flush()
	return out
}
