package plot

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func points(vs ...float64) []Point {
	ps := make([]Point, len(vs))
	for i, v := range vs {
		ps[i] = Point{T: t0.Add(time.Duration(i) * time.Minute), V: v}
	}
	return ps
}

// wellFormed fails the test unless svg parses as XML.
func wellFormed(t *testing.T, svg string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
	}
}

func TestSVG(t *testing.T) {
	for _, tc := range []struct {
		name     string
		chart    Chart
		want     []string
		wantNot  []string
		segments int // path "M" commands of the first series
		noSeries bool
	}{
		{
			name: "baseline and canary with the deploy marked",
			chart: Chart{Title: "p99 latency", Unit: "s", Series: []Series{
				{Name: "baseline v1", Class: "baseline", Points: points(0.1, 0.12, 0.11)},
				{Name: "canary v2", Class: "canary", Points: points(0.1, 0.2, 0.25)},
			}, Markers: []Marker{{T: t0.Add(time.Minute), Label: "deploy v2"}}},
			want:     []string{`class="series baseline"`, `class="series canary"`, `class="marker"`, "deploy v2", "baseline v1", "canary v2"},
			segments: 1,
		},
		{
			name:     "gaps are not drawn as lines",
			chart:    Chart{Series: []Series{{Name: "x", Points: points(1, math.NaN(), 2, math.Inf(1), 3)}}},
			segments: 3,
		},
		{
			name:     "no finite point says no data",
			chart:    Chart{Title: "errors", Series: []Series{{Name: "x", Points: points(math.NaN())}}},
			want:     []string{"no data"},
			wantNot:  []string{"<path"},
			noSeries: true,
		},
		{
			name:     "no series says no data",
			chart:    Chart{Title: "errors"},
			want:     []string{"no data"},
			noSeries: true,
		},
		{
			name: "user text is escaped",
			chart: Chart{Title: `<script>alert(1)</script>`, Series: []Series{{Name: `"><img src=x>`, Class: `a" onload="x`, Points: points(1, 2)}},
				Markers: []Marker{{T: t0, Label: "<b>"}}},
			wantNot:  []string{"<script>", "<img", `onload="x`, "<b>"},
			segments: 1,
		},
		{
			name:     "markers outside the data are left out",
			chart:    Chart{Series: []Series{{Name: "x", Points: points(1, 2)}}, Markers: []Marker{{T: t0.Add(time.Hour), Label: "later"}}},
			wantNot:  []string{"later"},
			segments: 1,
		},
		{
			name:     "a flat line sits inside the plot",
			chart:    Chart{Series: []Series{{Name: "x", Points: points(5, 5, 5)}}},
			segments: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svg := string(tc.chart.SVG())
			wellFormed(t, svg)
			for _, w := range tc.want {
				if !strings.Contains(svg, w) {
					t.Errorf("SVG lacks %q:\n%s", w, svg)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(svg, w) {
					t.Errorf("SVG contains %q:\n%s", w, svg)
				}
			}
			if tc.noSeries {
				return
			}
			d := svg[strings.Index(svg, `<path`):]
			d = d[strings.Index(d, ` d="`)+4:]
			d = d[:strings.IndexByte(d, '"')]
			if got := strings.Count(d, "M"); got != tc.segments {
				t.Errorf("first series path %q has %d segments, want %d", d, got, tc.segments)
			}
			if strings.Contains(d, "NaN") || strings.Contains(d, "Inf") {
				t.Errorf("path %q has non-finite coordinates", d)
			}
		})
	}
}

func TestNiceTicksCoverTheRange(t *testing.T) {
	for _, r := range [][2]float64{{0, 1}, {0.013, 0.027}, {-5, 5}, {1e6, 3.2e6}, {0, 1e-9}} {
		ticks := niceTicks(r[0], r[1], 5)
		if len(ticks) < 2 || len(ticks) > 12 {
			t.Errorf("niceTicks(%v) = %v: want 2..12 ticks", r, ticks)
		}
		for _, v := range ticks {
			if v < r[0] || v > r[1]*(1+1e-9)+1e-300 {
				t.Errorf("niceTicks(%v) has %v outside the range", r, v)
			}
		}
	}
}

func FuzzSVG(f *testing.F) {
	f.Add("p99", "baseline", 0.1, 0.2, math.NaN(), int64(60))
	f.Fuzz(func(t *testing.T, name, class string, a, b, c float64, stepSeconds int64) {
		step := time.Duration(stepSeconds%86400) * time.Second
		ps := []Point{{t0, a}, {t0.Add(step), b}, {t0.Add(2 * step), c}}
		wellFormed(t, string(Chart{Title: name, Series: []Series{{Name: name, Class: class, Points: ps}}}.SVG()))
	})
}

// TestFixedTimeAxis: a chart given From and To spans them, so a marker
// before its first point is drawn, and two charts of one window line up.
func TestFixedTimeAxis(t *testing.T) {
	deploy := Marker{T: t0.Add(-5 * time.Minute), Label: "deploy start"}
	free := string(Chart{Series: []Series{{Name: "canary", Points: points(1, 2, 3)}}, Markers: []Marker{deploy}}.SVG())
	if strings.Contains(free, "deploy start") {
		t.Fatal("without From the axis starts at the data, yet the earlier marker was drawn")
	}
	fixed := Chart{Series: []Series{{Name: "canary", Points: points(1, 2, 3)}}, Markers: []Marker{deploy},
		From: t0.Add(-10 * time.Minute), To: t0.Add(10 * time.Minute)}
	svg := string(fixed.SVG())
	wellFormed(t, svg)
	// 640 wide, margins 64 and 16: the marker sits a quarter into the plot.
	if !strings.Contains(svg, `<g class="marker"><line x1="204.0"`) {
		t.Errorf("marker not at a quarter of the fixed axis:\n%s", svg)
	}
	// The series starts half-way: its first point is at t0.
	if !strings.Contains(svg, `d="M344.0,`) {
		t.Errorf("series does not start half-way along the fixed axis:\n%s", svg)
	}
}
