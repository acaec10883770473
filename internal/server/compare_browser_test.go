package server_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/browsertest"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/tsdbtest"
)

// panelFacts is what a reader sees of one signal's panel, measured in the
// browser: the points of each drawn line, where the deploy markers sit
// relative to the plot and the lines, and the problems said in words.
type panelFacts struct {
	Baseline []lineFacts `json:"baseline"`
	Canary   []lineFacts `json:"canary"`
	Markers  []struct {
		InPlot     bool `json:"inPlot"`
		DataBefore bool `json:"dataBefore"` // a line of that chart has points left of the marker
		DataAfter  bool `json:"dataAfter"`
	} `json:"markers"`
	NoData []string `json:"nodata"`
	// SideBySide: the two sides' figures share a row, baseline on the left.
	SideBySide bool `json:"sideBySide"`
	// Ticks are the y-axis labels of each chart.
	Ticks [][]string `json:"ticks"`
	// Clipped are the drawn sizes of the marks of clipped values, Clip
	// the labels of the lines the charts clip at.
	Clipped []float64 `json:"clipped"`
	Clip    []string  `json:"clip"`
}

// quietFacts is a signal said in one line: its colour and height.
type quietFacts struct {
	Text       string  `json:"text"`
	Color      string  `json:"color"`
	Height     float64 `json:"height"`
	LineHeight float64 `json:"lineHeight"`
	Charts     int     `json:"charts"`
}

type lineFacts struct {
	Points int     `json:"points"`
	Width  float64 `json:"width"`  // rendered bounding box, px
	Stroke string  `json:"stroke"` // computed: the stylesheet applies
}

// measure runs in the page (through DevTools, so the page's CSP, which
// forbids scripts of its own, does not apply).
const measure = `(() => {
  const xs = d => (d.match(/[ML]\s*[-\d.]+/g) || []).map(s => parseFloat(s.slice(1)));
  const line = p => ({points: xs(p.getAttribute('d')).length, width: p.getBoundingClientRect().width,
    stroke: getComputedStyle(p).stroke});
  const out = {};
  for (const a of document.querySelectorAll('article.signal')) {
    const markers = [];
    for (const svg of a.querySelectorAll('svg.chart')) {
      const plot = svg.querySelector('rect.plot');
      const px0 = parseFloat(plot.getAttribute('x')), px1 = px0 + parseFloat(plot.getAttribute('width'));
      const all = [...svg.querySelectorAll('path.series')].flatMap(p => xs(p.getAttribute('d')));
      for (const m of svg.querySelectorAll('g.marker line')) {
        const x = parseFloat(m.getAttribute('x1'));
        markers.push({inPlot: x > px0 && x < px1, dataBefore: all.some(v => v < x), dataAfter: all.some(v => v > x)});
      }
    }
    out[a.id.replace('signal-', '')] = {
      baseline: [...a.querySelectorAll('path.series.baseline')].map(line),
      canary: [...a.querySelectorAll('path.series.canary')].map(line),
      markers,
      nodata: [...a.querySelectorAll('.nodata')].map(e => e.textContent.trim()),
      sideBySide: (() => {
        const b = a.querySelector('figure.side-baseline'), c = a.querySelector('figure.side-canary');
        if (!b || !c) return false;
        const rb = b.getBoundingClientRect(), rc = c.getBoundingClientRect();
        return rb.top === rc.top && rb.right <= rc.left;
      })(),
      ticks: [...a.querySelectorAll('svg.chart')].map(svg => [...svg.querySelectorAll('text.ytick')].map(e => e.textContent)),
      clipped: [...a.querySelectorAll('path.series.clipped')].map(p => p.getBoundingClientRect().width),
      clip: [...a.querySelectorAll('g.rule.clip text')].filter(e => e.getBoundingClientRect().width > 0).map(e => e.textContent),
    };
  }
  return out;
})()`

const measureQuiet = `(() => {
  const out = {};
  for (const p of document.querySelectorAll('p.nodata-signal')) {
    const st = getComputedStyle(p);
    out[p.id.replace('signal-', '')] = {text: p.textContent.trim(), color: st.color, height: p.getBoundingClientRect().height,
      lineHeight: parseFloat(st.lineHeight) || 1.5 * parseFloat(st.fontSize), charts: p.querySelectorAll('svg').length};
  }
  return out;
})()`

// TestComparePageInBrowser renders the compare page of a recorded healthy
// deploy from a real VictoriaMetrics through the real server and checks in
// headless Chromium that both versions are drawn, side by side and
// overlaid, with the deploy start marked amid the data.
func TestComparePageInBrowser(t *testing.T) {
	sc, err := fixtures.Load("healthy")
	if err != nil {
		t.Fatal(err)
	}
	// The recording ends five minutes ago; the deploy "started" ten
	// minutes into it, so both sides have data before and after the marker.
	t0 := time.Now().Add(-sc.Duration - 5*time.Minute).Truncate(time.Second)
	vm := tsdbtest.StartVictoriaMetrics(t)
	samples := tsdbtest.Scenario(sc, t0)
	// A spike: the canary's CPU counter jumps by 600 s once, 20 minutes in.
	for _, s := range samples {
		if s.Labels["__name__"] == "process_cpu_seconds_total" && s.Labels["version"] == sc.Canary {
			for i := len(s.Values) * 4 / 7; i < len(s.Values); i++ {
				s.Values[i] += 600
			}
		}
	}
	vm.Import(t, samples)
	client, err := prom.New(prom.Options{URL: vm.URL()})
	if err != nil {
		t.Fatal(err)
	}
	e := newCompareEnv(t, client, compare.SignalSet{})
	ts := httptest.NewServer(e.h)
	t.Cleanup(ts.Close)

	start := t0.Add(10 * time.Minute)
	d, _, err := e.db.CreateDeploy(t.Context(), gohere.Deploy{
		Service: sc.Service, Env: sc.Env, Version: sc.Canary, BaselineVersion: sc.Baseline,
		Status: gohere.StatusSucceeded, StartedAt: start, FinishedAt: t0.Add(sc.Duration - compare.Margin),
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	link := compare.URL(compare.Config{PublicURL: ts.URL}, d)

	ctx := browsertest.New(t, 60*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#signal-request_rate svg.chart"))); err != nil {
		t.Fatalf("open %s: %v", link, err)
	}
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]panelFacts](measure))
	if err != nil {
		t.Fatal(err)
	}
	quiet, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]quietFacts](measureQuiet))
	if err != nil {
		t.Fatal(err)
	}
	back, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("p.compare-deploy a"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	shot := browsertest.Artifact(t, "compare-page.jpg")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	// 40 minutes at a 15 s step are 161 steps; the recording covers 35
	// minutes of them, less the first rate window.
	const minPoints = 130
	for _, name := range []string{"request_rate", "error_ratio", "latency_p50", "latency_p99", "cpu"} {
		f, ok := facts[name]
		if !ok {
			t.Errorf("%s: no panel", name)
			continue
		}
		for role, lines := range map[string][]lineFacts{"baseline": f.Baseline, "canary": f.Canary} {
			if len(lines) != 2 {
				t.Errorf("%s: %d %s lines, want 2 (side by side and overlay)", name, len(lines), role)
			}
			for _, l := range lines {
				if l.Points < minPoints || l.Width < 100 || l.Stroke == "none" || l.Stroke == "" {
					t.Errorf("%s: %s line of %d points, %.0f px wide, stroke %q; want ≥ %d points drawn across the chart",
						name, role, l.Points, l.Width, l.Stroke, minPoints)
				}
			}
		}
		if len(f.Baseline) > 0 && len(f.Canary) > 0 && f.Baseline[0].Stroke == f.Canary[0].Stroke {
			t.Errorf("%s: baseline and canary share the stroke %s", name, f.Baseline[0].Stroke)
		}
		if len(f.Markers) != 3 {
			t.Errorf("%s: %d deploy markers, want 3 (two sides and the overlay)", name, len(f.Markers))
		}
		for _, m := range f.Markers {
			if !m.InPlot || !m.DataBefore || !m.DataAfter {
				t.Errorf("%s: marker %+v; want it inside the plot with data on both sides", name, m)
			}
		}
		if !f.SideBySide {
			t.Errorf("%s: baseline and canary are not side by side", name)
		}
		if spike := name == "cpu"; spike != (len(f.Clipped) == 2 && len(f.Clip) == 3) {
			t.Errorf("%s: %d marks of clipped values, clip lines %q; want them on the canary and overlay charts, and three clip lines, only for cpu's spike",
				name, len(f.Clipped), f.Clip)
		}
		for _, w := range f.Clipped {
			if w < 3 {
				t.Errorf("%s: a mark of clipped values is %.1f px wide: not visible", name, w)
			}
		}
		if len(f.NoData) != 0 {
			t.Errorf("%s: reports %q", name, f.NoData)
		}
		for i, ticks := range f.Ticks {
			if !slices.Equal(ticks, f.Ticks[0]) {
				t.Errorf("%s: chart %d has the y-axis %v, the first %v; want one scale for the signal", name, i+1, ticks, f.Ticks[0])
			}
		}
	}
	// The recording has no memory series: one grey line says so.
	if _, ok := facts["memory"]; ok {
		t.Error("memory, without data, is drawn as a panel")
	}
	m, ok := quiet["memory"]
	if !ok || m.Text != "Memory (resident): no data for this signal" || m.Charts != 0 || m.Height > 1.5*m.LineHeight {
		t.Errorf("memory: %+v; want one line saying there is no data, no chart", m)
	}
	if r, g, b := rgb(t, m.Color); max(r, g, b)-min(r, g, b) > 40 {
		t.Errorf("memory's line is %s, want grey", m.Color)
	}
	if back.Value != "/deploys/"+d.ID {
		t.Errorf("the page links back to %q, want the deploy /deploys/%s", back.Value, d.ID)
	}

	// The time range is a plain link: ±1 h around the deploy start.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`nav.ranges a[href*="from=`+strconv.FormatInt(start.Add(-time.Hour).UnixMilli(), 10)+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.ranges strong[aria-current="page"]`))); err != nil {
		t.Fatalf("follow the ±1 h link: %v", err)
	}
	from, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".fields dd time")))
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(-time.Hour).UTC().Format("2006-01-02 15:04:05Z"); from != want {
		t.Errorf("after ±1 h the page is from %q, want %q", from, want)
	}
}

// rgb reads a computed CSS colour "rgb(r, g, b)".
func rgb(t *testing.T, css string) (r, g, b int) {
	t.Helper()
	if _, err := fmt.Sscanf(css, "rgb(%d, %d, %d)", &r, &g, &b); err != nil {
		t.Fatalf("colour %q: %v", css, err)
	}
	return r, g, b
}
