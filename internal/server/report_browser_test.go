package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/browsertest"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/tsdbtest"
	"github.com/gohere/gohere/judge"
)

// overflow runs in the page (through DevTools: the page's CSP forbids
// scripts of its own). It opens the resolved queries, so that their long
// PromQL is laid out too, and lists every element that sticks out: the page
// or body wider than the window, a table, pre, code, figure or chart wider
// than its container or scrolling inside itself.
const overflow = `(() => {
  for (const d of document.querySelectorAll('details')) d.open = true;
  const name = e => e.tagName.toLowerCase() + (e.getAttribute('class') ? '.' + e.getAttribute('class').split(' ').join('.') : '') +
    ((c => c ? ' in ' + c.getAttribute('data-metric') : '')(e.closest('[data-metric]')));
  const out = {checked: 0, charts: 0, over: []};
  for (const e of [document.documentElement, document.body]) {
    if (e.scrollWidth > e.clientWidth) out.over.push(name(e) + ' scrolls: ' + e.scrollWidth + ' > ' + e.clientWidth);
  }
  for (const e of document.querySelectorAll('main table, main pre, main code, main figure, main svg, main .metric-plots, main p.nodata, main td')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0) continue;
    out.checked++;
    if (e.tagName.toLowerCase() === 'svg') out.charts++;
    const p = e.parentElement.getBoundingClientRect();
    if (r.right > p.right + 1 || r.left < p.left - 1) out.over.push(name(e) + ' sticks out of its container: ' + Math.round(r.left) + '–' + Math.round(r.right) + ' in ' + Math.round(p.left) + '–' + Math.round(p.right));
    if (e.tagName.toLowerCase() !== 'svg' && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).display !== 'inline') out.over.push(name(e) + ' scrolls: ' + e.scrollWidth + ' > ' + e.clientWidth);
  }
  return out;
})()`

type overflowFacts struct {
	Checked int      `json:"checked"`
	Charts  int      `json:"charts"`
	Over    []string `json:"over"`
}

// TestReportPagesInBrowser judges the failing error-burst and the NoData
// no-traffic scenarios from a real VictoriaMetrics, shows their reports
// through the real server in headless Chromium at 1400 px and on a 390 px
// phone, saves screenshots, and checks from the DOM that nothing is wider
// than its container: long PromQL wraps, tables fit, charts shrink.
func TestReportPagesInBrowser(t *testing.T) {
	vm := tsdbtest.StartVictoriaMetrics(t)
	client, err := prom.New(prom.Options{URL: vm.URL()})
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t)
	ids := map[string]string{}
	for i, name := range []string{"error-burst", "no-traffic"} {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now().Add(-time.Duration(i+1) * (sc.Duration + 10*time.Minute)).Truncate(time.Minute)
		vm.Import(t, tsdbtest.Scenario(sc, t0))
		ids[name] = judgedScenario(t, db, client, sc, t0)
	}
	ts := httptest.NewServer(newPlotEnv(t, db, client).h)
	t.Cleanup(ts.Close)

	ctx := browsertest.New(t, 120*time.Second)
	for name, id := range ids {
		for _, width := range []int64{1400, 390} {
			link := ts.URL + "/deploys/" + id
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(link),
				chromedp.WaitVisible(chromedp.CSS("table.metrics"))); err != nil {
				t.Fatalf("open %s: %v", link, err)
			}
			facts, err := chromedp.Run(ctx, chromedp.Evaluate[overflowFacts](overflow))
			if err != nil {
				t.Fatal(err)
			}
			img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
			if err != nil {
				t.Fatal(err)
			}
			shot := browsertest.Artifact(t, fmt.Sprintf("report-%s-%d.png", name, width))
			if err := os.WriteFile(shot, img, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s at %d px: %d elements, %d charts measured; screenshot %s", name, width, facts.Checked, facts.Charts, shot)
			if facts.Checked < 50 {
				t.Errorf("%s at %d px: only %d elements measured", name, width, facts.Checked)
			}
			for _, o := range facts.Over {
				t.Errorf("%s at %d px: %s", name, width, o)
			}
		}
	}
}

// judgedScenario records a deploy of the scenario started at t0 with one
// analysis, judged over the scenario's window by the real runner's
// JudgeWindow, and returns the deploy's ID.
func judgedScenario(tb testing.TB, db *store.DB, src analysis.Source, sc fixtures.Scenario, t0 time.Time) string {
	tb.Helper()
	ctx := tb.Context()
	cfg, err := judge.LoadConfig(bytes.NewReader(sc.Config))
	if err != nil {
		tb.Fatal(err)
	}
	res, err := analysis.JudgeWindow(ctx, src, nil, cfg, analysis.Target{Service: sc.Service, Env: sc.Env,
		Baseline: sc.Baseline, Canary: sc.Canary}, t0.Add(2*time.Minute), t0.Add(sc.Duration))
	if err != nil {
		tb.Fatal(err)
	}
	if res.Report.Verdict != sc.Expected {
		tb.Fatalf("%s: judged %s, want %s: %q", sc.Name, res.Report.Verdict, sc.Expected, res.Report.Reasons)
	}
	d, _, err := db.CreateDeploy(ctx, gohere.Deploy{ID: "d-" + sc.Name, Service: sc.Service, Env: sc.Env, Version: sc.Canary,
		BaselineVersion: sc.Baseline, Status: gohere.StatusRunning, StartedAt: t0}, "")
	if err != nil {
		tb.Fatal(err)
	}
	a, err := db.CreateAnalysis(ctx, store.Analysis{DeployID: d.ID, Config: string(sc.Config), Service: sc.Service, Env: sc.Env,
		BaselineVersion: sc.Baseline, CanaryVersion: sc.Canary, StartAt: res.Canary.Start, EndAt: res.Canary.End, Retrospective: true})
	if err != nil {
		tb.Fatal(err)
	}
	l, found, err := db.ClaimDueAnalysis(ctx, "vm/19904", time.Now(), time.Minute)
	if err != nil || !found || l.ID != a.ID {
		tb.Fatalf("claim: %v %v", found, err)
	}
	queries, _ := json.Marshal(res.Queries)
	report, _ := json.Marshal(res.Report)
	iv := store.Interval{Seq: 1, Start: res.Canary.Start, End: res.Canary.End, BaselineStart: res.Baseline.Start,
		BaselineEnd: res.Baseline.End, Queries: queries, Report: report, Verdict: res.Report.Verdict, Score: res.Report.Score,
		BaselineSamples: res.BaselineSamples, CanarySamples: res.CanarySamples, JudgedAt: time.Now()}
	if err := db.RecordInterval(ctx, l.Lease, iv, store.Progress{State: store.AnalysisAwaitingDecision}); err != nil {
		tb.Fatal(err)
	}
	return d.ID
}
