package analysis_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/tsdbtest"
	"github.com/gohere/gohere/judge"
)

// scenario is a fixture placed at its own hour in the past.
type scenario struct {
	fixtures.Scenario
	start time.Time
}

func placeScenarios(t *testing.T) ([]scenario, []tsdbtest.Sample) {
	t.Helper()
	hour := time.Now().Truncate(time.Hour)
	var out []scenario
	var all []tsdbtest.Sample
	for i, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		start := hour.Add(-time.Duration(i+2) * time.Hour)
		out = append(out, scenario{sc, start})
		all = append(all, tsdbtest.Scenario(sc, start)...)
	}
	return out, all
}

// TestScenarios runs every recorded fixture scenario through the real
// runner, as retrospective analyses over its 30 minutes, against a real
// VictoriaMetrics and a real Prometheus: each ends with the verdict the
// scenario expects (regressions Fail, possibly early; no traffic and
// unpairable labels NoData; the healthy deploy Pass).
func TestScenarios(t *testing.T) {
	scenarios, all := placeScenarios(t)
	for _, st := range []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"victoriametrics", func(t *testing.T) string {
			vm := tsdbtest.StartVictoriaMetrics(t)
			vm.Import(t, all)
			return vm.URL()
		}},
		{"prometheus", func(t *testing.T) string { return tsdbtest.StartPrometheus(t, all).URL() }},
	} {
		t.Run(st.name, func(t *testing.T) {
			url := st.start(t)
			src, err := prom.New(prom.Options{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, "")
			ids := map[string]string{}
			for _, sc := range scenarios {
				dep, _, err := e.db.CreateDeploy(t.Context(), gohere.Deploy{Service: sc.Service, Env: sc.Env,
					Version: sc.Canary, BaselineVersion: sc.Baseline, StartedAt: sc.start}, "")
				if err != nil {
					t.Fatal(err)
				}
				a, err := analysis.Prepare(dep, sc.Config, sc.start, time.Time{}, time.Now())
				if err != nil {
					t.Fatalf("%s: Prepare: %v", sc.Name, err)
				}
				if !a.Retrospective {
					t.Fatalf("%s: analysis of an hour-old deploy is not retrospective", sc.Name)
				}
				if a, err = e.db.CreateAnalysis(t.Context(), a); err != nil {
					t.Fatal(err)
				}
				ids[sc.Name] = a.ID
			}
			kill := e.run("r1", src, func(o *analysis.Options) { o.Poll = 20 * time.Millisecond })
			defer kill()
			for _, sc := range scenarios {
				a := e.waitDone(ids[sc.Name], time.Minute)
				var verdicts []string
				for _, iv := range a.Intervals {
					verdicts = append(verdicts, fmt.Sprintf("%d:%s %.1f %s", iv.Seq, iv.Verdict, iv.Score, iv.Error))
				}
				t.Logf("%s: %s, %s after %d intervals: %s", sc.Name, a.State, a.Verdict, len(a.Intervals), strings.Join(verdicts, "; "))
				if a.Verdict != sc.Expected || !a.State.AwaitsDecision() {
					t.Errorf("%s: state %s, verdict %s; want %s waiting for a decision", sc.Name, a.State, a.Verdict, sc.Expected)
				}
				for _, iv := range a.Intervals {
					if iv.Error != "" {
						t.Errorf("%s: interval %d: %s", sc.Name, iv.Seq, iv.Error)
					}
				}
				if sc.Expected != gohere.VerdictNoData || len(a.Intervals) == 0 {
					continue
				}
				// Every metric without data says which series are missing.
				for _, m := range report(t, a.Intervals[len(a.Intervals)-1]).Metrics {
					if m.Label != judge.LabelNoData || !strings.Contains(m.Reason, " series ") {
						t.Errorf("%s: metric %s: %s %q; want NoData naming the missing series", sc.Name, m.Name, m.Label, m.Reason)
					}
				}
			}
		})
	}
}

// waitDone polls until the analysis is no longer active.
func (e *env) waitDone(id string, limit time.Duration) store.Analysis {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		a := e.get(id)
		if !a.State.Active() {
			return a
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("analysis %s still %s after %s (%d intervals, last error %q)", id, a.State, limit, len(a.Intervals), a.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStoreOutage stops a real VictoriaMetrics before a retrospective run
// of the healthy fixture: interval 1 cannot be queried, is retried, then
// recorded as NoData with the reason (it does not pass); once the store is
// back the run recovers and the following intervals are judged.
func TestStoreOutage(t *testing.T) {
	sc, err := fixtures.Load("healthy")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Truncate(time.Hour).Add(-2 * time.Hour)
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, tsdbtest.Scenario(sc, start))
	src, err := prom.New(prom.Options{URL: vm.URL(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	dep, _, err := e.db.CreateDeploy(t.Context(), gohere.Deploy{Service: sc.Service, Env: sc.Env,
		Version: sc.Canary, BaselineVersion: sc.Baseline, StartedAt: start}, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := analysis.Prepare(dep, sc.Config, start, time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a, err = e.db.CreateAnalysis(t.Context(), a); err != nil {
		t.Fatal(err)
	}

	vm.Stop(t)
	// Three tries a second apart per interval: the store has several
	// seconds to come back before the next intervals are given up too.
	kill := e.run("r1", src, func(o *analysis.Options) {
		o.Poll, o.Backoff, o.MaxBackoff, o.MinTries = 20*time.Millisecond, time.Second, time.Second, 3
	})
	defer kill()
	deadline := time.Now().Add(30 * time.Second)
	var got store.Analysis
	for got = e.get(a.ID); len(got.Intervals) == 0; got = e.get(a.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("no interval recorded during the outage (state %s, %d tries, last error %q)", got.State, got.Attempts, got.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
	iv := got.Intervals[0]
	if iv.Verdict != gohere.VerdictNoData || !strings.Contains(iv.Error, "the metric store failed 3 times") || got.Verdict != gohere.VerdictNoData {
		t.Errorf("during the outage: interval %+v, run verdict %s; want NoData with the reason", iv, got.Verdict)
	}
	t.Logf("interval 1 during the outage: %s", iv.Error)

	vm.Start(t)
	got = e.waitDone(a.ID, time.Minute)
	var verdicts []gohere.Verdict
	for _, iv := range got.Intervals {
		verdicts = append(verdicts, iv.Verdict)
		if iv.Verdict == gohere.VerdictNoData && iv.Error == "" || iv.Verdict != gohere.VerdictNoData && iv.Error != "" {
			t.Errorf("interval %d: %s, error %q; a NoData interval of an outage says why", iv.Seq, iv.Verdict, iv.Error)
		}
	}
	t.Logf("interval verdicts: %v", verdicts)
	if len(got.Intervals) != 6 || got.Verdict != gohere.VerdictPass || got.State != store.AnalysisAwaitingDecision {
		t.Errorf("after the store came back: %d intervals %v, run %s %s; want 6, recovering to Pass", len(got.Intervals), verdicts, got.State, got.Verdict)
	}
}
