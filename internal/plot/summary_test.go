package plot

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

// TestBar: segments as wide as their weights, classed for their colour,
// labelled inside when the label fits; nothing drawn for no weight.
func TestBar(t *testing.T) {
	svg := string(Bar{Title: "groups", Width: 500, Segments: []Segment{
		{Label: "latency 100", Weight: 40, Class: "pass"},
		{Label: "errors 0", Title: "errors: weight 60", Weight: 60, Class: "fail"},
		{Label: "none", Weight: 0, Class: "nodata"},
		{Label: "a very long label that cannot fit", Weight: 1, Class: "tiny"},
	}}.SVG())
	wellFormed(t, svg)
	for _, want := range []string{
		`<g class="segment pass"><title>latency 100</title><rect x="0.0" y="0" width="198.0" height="28"/><text`,
		`<g class="segment fail"><title>errors: weight 60</title><rect x="198.0" y="0" width="297.0"`,
		`<g class="segment tiny"><title>a very long label that cannot fit</title><rect x="495.0" y="0" width="5.0" height="28"/></g>`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("bar lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "nodata") {
		t.Errorf("a segment without weight is drawn:\n%s", svg)
	}
}

// TestDistribution: both sides as box plots on one value axis with
// their quartiles, the values beyond the whiskers as dots, and the shift
// with its interval against the tolerated band, an unbounded band side
// clipped to the axis.
func TestDistribution(t *testing.T) {
	baseline := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	canary := []float64{11, 12, 13, 14, 15, 16, 17, 18, 19, 60, math.NaN()}
	svg := string(Distribution{Title: "latency", Width: 520,
		Samples: []Sample{{Name: "baseline v1", Class: "baseline", Values: baseline}, {Name: "canary v2", Class: "canary", Values: canary}},
		Shift:   &Shift{Label: "shift", Estimate: 10, Low: 8, High: 12, BandLow: math.Inf(-1), BandHigh: 2},
		Format:  func(v, _ float64) string { return formatValue(v) + " ms" },
	}.SVG())
	wellFormed(t, svg)
	for _, want := range []string{
		`<g class="box baseline"><title>baseline v1: n 10, quartiles 3.25 ms / 5.5 ms / 7.75 ms</title>`,
		`<g class="box canary"><title>canary v2: n 10, quartiles 13.2 ms / 15.5 ms / 17.8 ms</title>`,
		`<rect class="band"`, `<g class="shift">`, "canary − baseline", "0 ms",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("distribution lacks %q:\n%s", want, svg)
		}
	}
	// 60 lies beyond 17.75 + 1.5 IQR: one dot, in the canary's box.
	canaryBox := svg[strings.Index(svg, `<g class="box canary">`):]
	canaryBox = canaryBox[:strings.Index(canaryBox, "</g>")]
	if n := strings.Count(canaryBox, "<circle"); n != 1 {
		t.Errorf("%d outliers drawn, want 1:\n%s", n, canaryBox)
	}
	// The band starts at the axis' left end: its lower side is unbounded.
	band := regexp.MustCompile(`<rect class="band" x="([0-9.]+)"`).FindStringSubmatch(svg)
	if band == nil || band[1] != "110.0" {
		t.Errorf("band %v: want it from the axis' start at x 110", band)
	}
}

// TestDistributionWithoutData says so instead of drawing empty boxes.
func TestDistributionWithoutData(t *testing.T) {
	svg := string(Distribution{Title: "x", Samples: []Sample{{Name: "baseline", Values: []float64{math.NaN()}}}}.SVG())
	wellFormed(t, svg)
	if !strings.Contains(svg, "no data") || strings.Contains(svg, "<rect") {
		t.Errorf("want no data and no box:\n%s", svg)
	}
}

// TestChartFormatAndRules: the y-axis values come from Format with the
// largest tick, and rules widen the value range to stay inside the plot.
func TestChartFormatAndRules(t *testing.T) {
	var refs []float64
	svg := string(Chart{Title: "score", Series: []Series{{Name: "score", Points: points(20, 40)}},
		Rules:  []Rule{{V: 95, Label: "pass 95", Class: "pass"}},
		Format: func(v, ref float64) string { refs = append(refs, ref); return "v" + formatValue(v) },
	}.SVG())
	wellFormed(t, svg)
	if !strings.Contains(svg, `<g class="rule pass"><line`) || !strings.Contains(svg, "pass 95") || !strings.Contains(svg, ">v80<") {
		t.Errorf("want the rule drawn and ticks of 0 to 95 up to v80:\n%s", svg)
	}
	for _, r := range refs {
		if r != 80 {
			t.Errorf("Format got ref %v, want the largest tick 80", r)
		}
	}
}

// TestFixedValueAxis: YFrom and YTo fix the value axis whatever the data.
func TestFixedValueAxis(t *testing.T) {
	svg := string(Chart{Series: []Series{{Name: "score", Points: points(100, 100)}}, YFrom: 0, YTo: 100}.SVG())
	wellFormed(t, svg)
	// 240 high, margins 28 and 40: 100 is the plot's top, 0 its bottom.
	if !strings.Contains(svg, `d="M64.0,28.0 L624.0,28.0"`) || !strings.Contains(svg, `y="204.0" text-anchor="end">0</text>`) {
		t.Errorf("want the axis from 0 to 100:\n%s", svg)
	}
}
