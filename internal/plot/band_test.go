package plot

import (
	"math"
	"strings"
	"testing"
)

// TestBandChart: the band's area is one closed path per run of instants
// with both edges finite, drawn behind the lines; a rule spans the chart;
// a band without finite points says no data.
func TestBandChart(t *testing.T) {
	nan := math.NaN()
	c := BandChart{Chart: Chart{Title: "latency <&> shift", Unit: "%"},
		Bands: []Band{{Name: "CS", Class: "cs", Low: points(nan, -10, -5, nan, 1, 2), High: points(nan, 60, 40, nan, 30, 25)}},
	}
	c.Rules = []Rule{{V: 2, Label: "allowed increase"}}
	svg := string(c.SVG())
	wellFormed(t, svg)
	if n := strings.Count(svg, `<path class="area cs"`); n != 2 {
		t.Errorf("%d areas, want 2 (the gap splits the band)", n)
	}
	if a, l := strings.Index(svg, `class="area cs"`), strings.Index(svg, `class="series`); a < 0 || l < 0 || a > l {
		t.Errorf("the area is not behind the lines")
	}
	if !strings.Contains(svg, `>allowed increase</text>`) || !strings.Contains(svg, "latency &lt;&amp;&gt; shift") {
		t.Errorf("the level or the escaped title is missing:\n%s", svg)
	}
	empty := string(BandChart{Chart: Chart{Title: "x", Rules: []Rule{{V: 1}}}, Bands: []Band{{Low: points(nan), High: points(nan)}}}.SVG())
	wellFormed(t, empty)
	if !strings.Contains(empty, "no data") {
		t.Errorf("an empty band chart does not say no data:\n%s", empty)
	}
}
