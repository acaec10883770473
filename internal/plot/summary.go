package plot

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"slices"
)

// Segment is one part of a Bar.
type Segment struct {
	Label  string // drawn inside the segment when it fits
	Title  string // the tooltip; empty: Label
	Weight float64
	Class  string
}

// Bar is one horizontal bar split into segments as wide as their weights
// are large, such as an analysis' groups. The zero Width and Height mean
// 520×28.
type Bar struct {
	Title    string
	Segments []Segment
	Width    int
	Height   int
}

// SVG renders the bar; segments without a positive weight are left out.
func (r Bar) SVG() template.HTML {
	w, h := r.Width, r.Height
	if w <= 0 {
		w = 520
	}
	if h <= 0 {
		h = 28
	}
	total := 0.0
	for _, s := range r.Segments {
		if s.Weight > 0 && finite(s.Weight) {
			total += s.Weight
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart bar" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`,
		w, h, w, h, esc(r.Title), esc(r.Title))
	x := 0.0
	for _, s := range r.Segments {
		if !(s.Weight > 0) || !finite(s.Weight) {
			continue
		}
		sw := float64(w) * s.Weight / total
		title := s.Title
		if title == "" {
			title = s.Label
		}
		fmt.Fprintf(&b, `<g class="segment %s"><title>%s</title><rect x="%s" y="0" width="%s" height="%d"/>`,
			esc(s.Class), esc(title), num(x), num(sw), h)
		if float64(len([]rune(s.Label)))*6.5+8 <= sw { // 11px text: about 6.5px a character
			fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle">%s</text>`, num(x+sw/2), h/2+4, esc(s.Label))
		}
		b.WriteString(`</g>`)
		x += sw
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: every user string went through esc
}

// Sample is one side's values for a Distribution.
type Sample struct {
	Name   string
	Class  string
	Values []float64
}

// Shift is an estimated shift between two samples with its confidence
// interval, drawn against the band of shifts that are tolerated.
type Shift struct {
	Label               string // e.g. "Hodges-Lehmann shift, 98 % CI"
	Estimate, Low, High float64
	// BandLow and BandHigh bound the tolerated shifts; ±Inf: no bound on
	// that side.
	BandLow, BandHigh float64
}

// Distribution draws samples as box plots on one shared value axis and,
// when Shift is set, the shift with its interval against the tolerated
// band on an axis of its own. The zero Width means 520.
type Distribution struct {
	Title   string
	Samples []Sample
	Shift   *Shift
	// Format writes the axis values (see Chart.Format); nil: compact
	// numbers.
	Format func(v, ref float64) string
	Width  int
}

const (
	boxRow   = 30 // height of one sample's box
	axisRow  = 18 // height of an axis' labels
	labelCol = 110
)

// SVG renders the distribution; a sample without finite values is drawn
// as "no data" in its row.
func (d Distribution) SVG() template.HTML {
	w := d.Width
	if w <= 0 {
		w = 520
	}
	format := d.Format
	if format == nil {
		format = func(v, _ float64) string { return formatValue(v) }
	}
	samples := make([][]float64, len(d.Samples))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range d.Samples {
		for _, v := range s.Values {
			if finite(v) {
				samples[i] = append(samples[i], v)
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		slices.Sort(samples[i])
	}
	h := 24 + len(d.Samples)*boxRow + axisRow
	if d.Shift != nil {
		h += 22 + boxRow + axisRow
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart distribution" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`,
		w, h, w, h, esc(d.Title), esc(d.Title))
	fmt.Fprintf(&b, `<text class="title" x="4" y="16">%s</text>`, esc(d.Title))
	pw := float64(w - labelCol - marginRight)
	y := 24
	if lo > hi {
		fmt.Fprintf(&b, `<text class="nodata" x="%d" y="%d" text-anchor="middle">no data</text>`, w/2, y+boxRow/2+4)
	} else {
		lo, hi = padded(lo, hi)
		sx := func(v float64) float64 { return labelCol + pw*(v-lo)/(hi-lo) }
		for i, s := range d.Samples {
			fmt.Fprintf(&b, `<text class="ytick" x="%d" y="%d" text-anchor="end">%s</text>`, labelCol-6, y+boxRow/2+4, esc(s.Name))
			if len(samples[i]) == 0 {
				fmt.Fprintf(&b, `<text class="nodata" x="%d" y="%d">no data</text>`, labelCol, y+boxRow/2+4)
			} else {
				box(&b, s, samples[i], sx, float64(y)+4, boxRow-8, format)
			}
			y += boxRow
		}
		axis(&b, lo, hi, sx, y, format)
	}
	y += axisRow
	if s := d.Shift; s != nil {
		y += 22
		fmt.Fprintf(&b, `<text class="title" x="4" y="%d">%s</text>`, y-6, esc(s.Label))
		lo, hi := math.Min(0, math.Min(s.Low, s.Estimate)), math.Max(0, math.Max(s.High, s.Estimate))
		for _, v := range []float64{s.BandLow, s.BandHigh} {
			if finite(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		lo, hi = padded(lo, hi)
		sx := func(v float64) float64 { return labelCol + pw*(v-lo)/(hi-lo) }
		clip := func(v float64) float64 { return sx(math.Max(lo, math.Min(hi, v))) }
		mid := float64(y) + boxRow/2
		fmt.Fprintf(&b, `<text class="ytick" x="%d" y="%s" text-anchor="end">canary − baseline</text>`, labelCol-6, num(mid+4))
		fmt.Fprintf(&b, `<rect class="band" x="%s" y="%d" width="%s" height="%d"><title>tolerated shifts</title></rect>`,
			num(clip(s.BandLow)), y+2, num(clip(s.BandHigh)-clip(s.BandLow)), boxRow-4)
		fmt.Fprintf(&b, `<line class="zero" x1="%s" x2="%s" y1="%d" y2="%d"/>`, num(sx(0)), num(sx(0)), y, y+boxRow)
		fmt.Fprintf(&b, `<g class="shift"><line x1="%s" x2="%s" y1="%s" y2="%s"/><line x1="%s" x2="%s" y1="%s" y2="%s"/><line x1="%s" x2="%s" y1="%s" y2="%s"/><circle cx="%s" cy="%s" r="4"/></g>`,
			num(sx(s.Low)), num(sx(s.High)), num(mid), num(mid),
			num(sx(s.Low)), num(sx(s.Low)), num(mid-6), num(mid+6),
			num(sx(s.High)), num(sx(s.High)), num(mid-6), num(mid+6),
			num(sx(s.Estimate)), num(mid))
		axis(&b, lo, hi, sx, y+boxRow, format)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: every user string went through esc
}

// padded widens [lo, hi] by 5 % a side, and a single value to a range.
func padded(lo, hi float64) (float64, float64) {
	if hi-lo <= 1e-9*math.Max(math.Abs(lo), math.Abs(hi)) {
		pad := math.Max(math.Abs(lo)*0.1, 1)
		return lo - pad, hi + pad
	}
	pad := (hi - lo) * 0.05
	return lo - pad, hi + pad
}

// box draws a box plot of sorted xs: the box from the first to the third
// quartile with the median, whiskers to the last values within 1.5 IQR of
// the box, the values beyond as dots.
func box(b *bytes.Buffer, s Sample, xs []float64, sx func(float64) float64, top, height float64, format func(v, ref float64) string) {
	q1, med, q3 := quantile(xs, 0.25), quantile(xs, 0.5), quantile(xs, 0.75)
	iqr := q3 - q1
	lo, hi := q1, q3
	for _, v := range xs {
		if v >= q1-1.5*iqr {
			lo = min(lo, v)
		}
		if v <= q3+1.5*iqr {
			hi = max(hi, v)
		}
	}
	mid := top + height/2
	fmt.Fprintf(b, `<g class="box %s"><title>%s: n %d, quartiles %s / %s / %s</title>`, esc(s.Class), esc(s.Name), len(xs),
		esc(format(q1, q1)), esc(format(med, med)), esc(format(q3, q3)))
	fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s"/><line x1="%s" x2="%s" y1="%s" y2="%s"/>`,
		num(sx(lo)), num(sx(q1)), num(mid), num(mid), num(sx(q3)), num(sx(hi)), num(mid), num(mid))
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s"/><line class="median" x1="%s" x2="%s" y1="%s" y2="%s"/>`,
		num(sx(q1)), num(top), num(math.Max(sx(q3)-sx(q1), 1)), num(height), num(sx(med)), num(sx(med)), num(top), num(top+height))
	for _, v := range xs {
		if v < lo || v > hi {
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="2"/>`, num(sx(v)), num(mid))
		}
	}
	b.WriteString(`</g>`)
}

// quantile of sorted xs by linear interpolation (R's type 7).
func quantile(xs []float64, p float64) float64 {
	h := p * float64(len(xs)-1)
	i := int(math.Floor(h))
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[i] + (h-float64(i))*(xs[i+1]-xs[i])
}

// axis draws about 5 labelled ticks of [lo, hi] along a baseline at y.
func axis(b *bytes.Buffer, lo, hi float64, sx func(float64) float64, y int, format func(v, ref float64) string) {
	ticks := niceTicks(lo, hi, 5)
	ref := 0.0
	for _, v := range ticks {
		ref = max(ref, math.Abs(v))
	}
	fmt.Fprintf(b, `<line class="axis" x1="%s" x2="%s" y1="%d" y2="%d"/>`, num(sx(lo)), num(sx(hi)), y, y)
	for _, v := range ticks {
		fmt.Fprintf(b, `<text class="xtick" x="%s" y="%d" text-anchor="middle">%s</text>`, num(sx(v)), y+13, esc(format(v, ref)))
	}
}
