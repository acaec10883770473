package plot

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Series is one line. Class is a CSS class (e.g. "baseline", "canary")
// that picks its style; Name is shown in the legend.
type Series struct {
	Name   string
	Class  string
	Points []Point
}

// Marker is a vertical line at an instant, such as the deploy start.
type Marker struct {
	T     time.Time
	Label string
}

// Rule is a horizontal line at a value, such as a threshold.
type Rule struct {
	V     float64
	Label string
	Class string
}

// Chart is one plot. The zero Width and Height mean 640×240.
type Chart struct {
	Title string
	Unit  string // shown after the y-axis values, e.g. "s", "req/s"
	// Format, when set, writes the y-axis values instead of Unit: v is a
	// tick, ref the largest tick in magnitude, so that all labels of the
	// axis can share one scale ("900 ms", not "0.9 s").
	Format  func(v, ref float64) string
	Series  []Series
	Markers []Marker
	Rules   []Rule // inside the value range
	// YFrom and YTo, when YTo > YFrom, fix the value axis (e.g. a score's
	// 0 to 100) instead of fitting it to the data.
	YFrom, YTo float64
	// From and To, when set, fix the time axis (e.g. to a page's window) so
	// that side-by-side charts share it and a marker before the first point
	// is still drawn; zero: the range of the data.
	From, To time.Time
	Width    int
	Height   int
}

const (
	marginLeft   = 64
	marginRight  = 16
	marginTop    = 28
	marginBottom = 40
)

// SVG renders the chart. A chart without a single finite point says so in
// the picture instead of drawing empty axes that look like a flat line.
func (c Chart) SVG() template.HTML {
	f, ok := c.frame()
	w, h := f.w, f.h
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		w, h, w, h, esc(c.Title))
	fmt.Fprintf(&b, `<title>%s</title>`, esc(c.Title))
	fmt.Fprintf(&b, `<text class="title" x="%d" y="18">%s</text>`, marginLeft, esc(c.Title))

	if !ok {
		fmt.Fprintf(&b, `<text class="nodata" x="%d" y="%d" text-anchor="middle">no data</text></svg>`, w/2, h/2)
		return template.HTML(b.String()) // #nosec: every user string went through esc
	}
	x0, x1, y0, y1, pw, ph := f.x0, f.x1, f.y0, f.y1, f.pw, f.ph
	sx, sy := f.x, f.y

	fmt.Fprintf(&b, `<rect class="plot" x="%d" y="%d" width="%s" height="%s"/>`, marginLeft, marginTop, num(pw), num(ph))
	ticks := niceTicks(y0, y1, 5)
	label := c.Format
	if label == nil {
		label = func(v, _ float64) string { return formatValue(v) + c.Unit }
	}
	ref := 0.0
	for _, v := range ticks {
		ref = max(ref, math.Abs(v))
	}
	for _, v := range ticks {
		y := sy(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%s" y1="%s" y2="%s"/>`, marginLeft, num(marginLeft+pw), num(y), num(y))
		fmt.Fprintf(&b, `<text class="ytick" x="%d" y="%s" text-anchor="end">%s</text>`, marginLeft-4, num(y+4), esc(label(v, ref)))
	}
	for _, r := range c.Rules {
		y := sy(r.V)
		fmt.Fprintf(&b, `<g class="rule %s"><line x1="%d" x2="%s" y1="%s" y2="%s"/><text x="%s" y="%s" text-anchor="end">%s</text></g>`,
			esc(r.Class), marginLeft, num(marginLeft+pw), num(y), num(y), num(marginLeft+pw-3), num(y-3), esc(r.Label))
	}
	for _, t := range timeTicks(x0, x1, 5) {
		x := sx(t)
		fmt.Fprintf(&b, `<text class="xtick" x="%s" y="%d" text-anchor="middle">%s</text>`, num(x), h-marginBottom+16, t.UTC().Format("15:04"))
	}
	for _, m := range c.Markers {
		if m.T.Before(x0) || m.T.After(x1) {
			continue
		}
		x := sx(m.T)
		fmt.Fprintf(&b, `<g class="marker"><line x1="%s" x2="%s" y1="%d" y2="%s"/><text x="%s" y="%d">%s</text></g>`,
			num(x), num(x), marginTop, num(marginTop+ph), num(x+3), marginTop+12, esc(m.Label))
	}
	for i, s := range c.Series {
		fmt.Fprintf(&b, `<path class="series %s" fill="none" d="%s"><title>%s</title></path>`, esc(s.Class), path(s.Points, sx, sy), esc(s.Name))
		lx := marginLeft + i*160
		fmt.Fprintf(&b, `<g class="legend %s"><line x1="%d" x2="%d" y1="%d" y2="%d"/><text x="%d" y="%d">%s</text></g>`,
			esc(s.Class), lx, lx+20, h-10, h-10, lx+24, h-6, esc(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: every user string went through esc
}

// frame is where a chart draws: its size, the plot area inside the
// margins and the ranges it maps onto it.
type frame struct {
	w, h   int
	pw, ph float64
	x0, x1 time.Time
	y0, y1 float64
}

// frame sizes the chart (640×240 by default) and scales it to its bounds;
// ok is false without a finite point.
func (c Chart) frame() (frame, bool) {
	f := frame{w: c.Width, h: c.Height}
	if f.w <= 0 {
		f.w = 640
	}
	if f.h <= 0 {
		f.h = 240
	}
	f.pw, f.ph = float64(f.w-marginLeft-marginRight), float64(f.h-marginTop-marginBottom)
	var ok bool
	f.x0, f.x1, f.y0, f.y1, ok = c.bounds()
	return f, ok
}

func (f frame) x(t time.Time) float64 {
	return marginLeft + f.pw*float64(t.Sub(f.x0))/float64(max(f.x1.Sub(f.x0), time.Nanosecond))
}

func (f frame) y(v float64) float64 { return marginTop + f.ph*(1-(v-f.y0)/(f.y1-f.y0)) }

// bounds returns the time and value range of all finite points, the value
// range padded so flat lines sit inside the plot.
func (c Chart) bounds() (x0, x1 time.Time, y0, y1 float64, ok bool) {
	y0, y1 = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !finite(p.V) {
				continue
			}
			if !ok || p.T.Before(x0) {
				x0 = p.T
			}
			if !ok || p.T.After(x1) {
				x1 = p.T
			}
			y0, y1 = min(y0, p.V), max(y1, p.V)
			ok = true
		}
	}
	if !ok {
		return x0, x1, 0, 0, false
	}
	for _, r := range c.Rules {
		if finite(r.V) {
			y0, y1 = min(y0, r.V), max(y1, r.V)
		}
	}
	if !c.From.IsZero() {
		x0 = c.From
	}
	if !c.To.IsZero() && c.To.After(x0) {
		x1 = c.To
	}
	if c.YTo > c.YFrom {
		return x0, x1, c.YFrom, c.YTo, true
	}
	if y1-y0 <= 1e-9*math.Max(math.Abs(y0), math.Abs(y1)) {
		// Flat, or so nearly that ticks could not tell the values apart.
		pad := math.Max(math.Abs(y0)*0.1, 1)
		y0, y1 = y0-pad, y1+pad
	}
	if y0 > 0 && y0 < (y1-y0) {
		y0 = 0 // start at zero when the data is not far from it
	}
	return x0, x1, y0, y1, true
}

// path draws the points as one SVG path, starting a new segment after a
// gap (NaN or ±Inf) so that missing data is not drawn as a line.
func path(points []Point, sx func(time.Time) float64, sy func(float64) float64) string {
	var b strings.Builder
	pen := false
	for _, p := range points {
		if !finite(p.V) {
			pen = false
			continue
		}
		if pen {
			b.WriteString(" L")
		} else {
			b.WriteString(" M")
			pen = true
		}
		b.WriteString(num(sx(p.T)))
		b.WriteByte(',')
		b.WriteString(num(sy(p.V)))
	}
	return strings.TrimSpace(b.String())
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// esc makes user text safe inside SVG markup: escaped, valid UTF-8, and
// without the control characters XML forbids.
func esc(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return template.HTMLEscapeString(s)
}

// niceTicks returns about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	step := niceStep((hi - lo) / float64(n))
	var ticks []float64
	// Bounded: a step below the values' precision would never advance.
	for i, v := 0, math.Ceil(lo/step)*step; i <= 3*n && v <= hi+step*1e-9; i, v = i+1, v+step {
		ticks = append(ticks, v)
	}
	return ticks
}

func niceStep(raw float64) float64 {
	exp := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*exp >= raw {
			return m * exp
		}
	}
	return 10 * exp
}

// timeTicks returns about n instants at round minutes within [from, to].
func timeTicks(from, to time.Time, n int) []time.Time {
	step := time.Minute
	for _, s := range []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		step = s
		if to.Sub(from)/s <= time.Duration(n) {
			break
		}
	}
	var ticks []time.Time
	for t := from.Truncate(step); !t.After(to); t = t.Add(step) {
		if !t.Before(from) {
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// formatValue prints an axis value compactly: 1.5k, 250m, 0.02.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'g', 3, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
