package analysis_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/tsdbtest"
	"github.com/gohere/gohere/judge"
)

// seqYAML is a sequential config of 12 five-minute looks over an hour with
// one latency and one error-rate metric of the service; %s is more
// analysis settings, %v the latency's allowed increase.
const seqYAML = `metrics:
  - name: latency
    query: 'latency_seconds{service="{{.Service}}",version="{{.Version}}"}'
    direction: increase
    effect_size: {allowed_increase: %v}
  - name: errors
    numerator: 'sum(increase(requests_total{service="{{.Service}}",version="{{.Version}}",code="500"}[15s]))'
    denominator: 'sum(increase(requests_total{service="{{.Service}}",version="{{.Version}}"}[15s]))'
    direction: increase
    effect_size: {allowed_increase: %v}
analysis:
  mode: sequential
  lifetime: 1h
  interval: 5m
  step: 15s
%s`

// seqSeries simulates one version of service for an hour from start, a
// point every 15 s: lognormal latency around 100 ms times factor, and
// counters of 100 requests per point with an error share of errShare.
func seqSeries(rng *rand.Rand, service, version string, start time.Time, factor, errShare float64) []tsdbtest.Sample {
	lat := tsdbtest.Sample{Labels: map[string]string{"__name__": "latency_seconds", "service": service, "version": version}}
	ok := tsdbtest.Sample{Labels: map[string]string{"__name__": "requests_total", "service": service, "version": version, "code": "200"}}
	bad := tsdbtest.Sample{Labels: map[string]string{"__name__": "requests_total", "service": service, "version": version, "code": "500"}}
	var okN, badN float64
	// From a minute before the start, so that the first increase has a
	// previous sample.
	for t := start.Add(-time.Minute); !t.After(start.Add(time.Hour)); t = t.Add(15 * time.Second) {
		ms := t.UnixMilli()
		lat.Timestamps = append(lat.Timestamps, ms)
		lat.Values = append(lat.Values, factor*0.1*math.Exp(0.5*rng.NormFloat64()))
		for range 100 {
			if rng.Float64() < errShare {
				badN++
			} else {
				okN++
			}
		}
		ok.Timestamps, ok.Values = append(ok.Timestamps, ms), append(ok.Values, okN)
		bad.Timestamps, bad.Values = append(bad.Timestamps, ms), append(bad.Values, badN)
	}
	return []tsdbtest.Sample{lat, ok, bad}
}

// TestSequentialRunner runs retrospective sequential analyses through the
// real runner against a real VictoriaMetrics: a healthy canary passes at
// the last of its 12 looks, a +30 % latency regression and a tripled error
// rate fail early, and with early_pass and a wide band a healthy canary
// passes before the end.
// Every look stores the anytime-valid p-value and confidence sequence of
// each metric, with the history of the looks before.
func TestSequentialRunner(t *testing.T) {
	start := time.Now().Truncate(time.Hour).Add(-3 * time.Hour)
	rng := rand.New(rand.NewPCG(14, 1))
	cases := []struct {
		service  string
		factor   float64
		errShare float64
		allowed  float64
		settings string
		state    store.AnalysisState
		verdict  gohere.Verdict
		early    bool // fewer than 12 looks
	}{
		{"healthy", 1, 0.01, 0, "", store.AnalysisAwaitingDecision, gohere.VerdictPass, false},
		{"slower", 1.3, 0.01, 0, "", store.AnalysisFailedEarly, gohere.VerdictFail, true},
		{"erroring", 1, 0.03, 0, "", store.AnalysisFailedEarly, gohere.VerdictFail, true},
		{"passing", 1, 0.01, 3, "  early_pass: true\n", store.AnalysisAwaitingDecision, gohere.VerdictPass, true},
	}
	var data []tsdbtest.Sample
	for _, c := range cases {
		data = append(data, seqSeries(rng, c.service, "v1", start, 1, 0.01)...)
		data = append(data, seqSeries(rng, c.service, "v2", start, c.factor, c.errShare)...)
	}
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, data)
	src, err := prom.New(prom.Options{URL: vm.URL()})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	ids := map[string]string{}
	for _, c := range cases {
		dep, _, err := e.db.CreateDeploy(t.Context(), gohere.Deploy{Service: c.service, Env: "prod", Version: "v2",
			BaselineVersion: "v1", StartedAt: start}, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(seqYAML, c.allowed, c.allowed, c.settings)
		a, err := analysis.Prepare(dep, []byte(cfg), start, time.Time{}, time.Now())
		if err != nil {
			t.Fatalf("%s: Prepare: %v", c.service, err)
		}
		if a, err = e.db.CreateAnalysis(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		ids[c.service] = a.ID
	}
	kill := e.run("r1", src, func(o *analysis.Options) { o.Poll = 20 * time.Millisecond })
	defer kill()
	for _, c := range cases {
		t.Run(c.service, func(t *testing.T) {
			a := e.waitDone(ids[c.service], 2*time.Minute)
			n := len(a.Intervals)
			if a.State != c.state || a.Verdict != c.verdict || (n < 12) != c.early {
				t.Errorf("state %s, verdict %s after %d looks; want %s, %s, early %v", a.State, a.Verdict, n, c.state, c.verdict, c.early)
			}
			for _, iv := range a.Intervals {
				ev := sequential(t, iv)
				if iv.Error != "" || len(ev.Metrics) != 2 {
					t.Fatalf("look %d: error %q, %d metrics", iv.Seq, iv.Error, len(ev.Metrics))
				}
				for _, m := range ev.Metrics {
					// The analysis' alpha is split over its two metrics.
					if m.Alpha != 0.025 || len(m.Looks) != iv.Seq {
						t.Errorf("look %d: %s has alpha %v and %d looks; want 0.025 and %d", iv.Seq, m.Name, m.Alpha, len(m.Looks), iv.Seq)
					}
				}
				// Every look counts the requests until its end: 20 points
				// of 100 requests per five minutes.
				for j, p := range ev.Metrics[1].Looks {
					if want := float64(2000 * (j + 1)); p.NCanary != want || p.NBaseline != want {
						t.Errorf("look %d of %d: %v and %v requests, want %v", j+1, iv.Seq, p.NBaseline, p.NCanary, want)
					}
				}
			}
			ev := sequential(t, a.Intervals[n-1])
			for _, m := range ev.Metrics {
				p := m.Looks[n-1]
				t.Logf("%s after %d looks: p %.3g, CS %s, rejected at %d, fits from %d", m.Name, n, p.PValue, csText(p.CS), m.RejectedAt, m.FitsFrom)
			}
			switch c.service {
			case "slower":
				if ev.Metrics[0].RejectedAt != n || ev.Metrics[1].RejectedAt != 0 {
					t.Errorf("latency rejected at look %d, errors at %d; want %d and never", ev.Metrics[0].RejectedAt, ev.Metrics[1].RejectedAt, n)
				}
				if r := report(t, a.Intervals[n-1]); r.Metrics[0].Label != judge.LabelHigh {
					t.Errorf("latency %s: %s", r.Metrics[0].Label, r.Metrics[0].Reason)
				}
			case "erroring":
				if ev.Metrics[1].RejectedAt != n || ev.Metrics[0].RejectedAt != 0 {
					t.Errorf("errors rejected at look %d, latency at %d; want %d and never", ev.Metrics[1].RejectedAt, ev.Metrics[0].RejectedAt, n)
				}
			case "passing":
				if !ev.Fits {
					t.Errorf("passed early without every sequence in its band")
				}
			}
		})
	}
}

func csText(b judge.Bounds) string {
	f := func(v *float64) string {
		if v == nil {
			return "inf"
		}
		return fmt.Sprintf("%.3g", *v)
	}
	return "[" + f(b.Low) + ", " + f(b.High) + "]"
}

// sequential decodes the sequential evidence stored with an interval.
func sequential(t *testing.T, iv store.Interval) judge.SequentialEvidence {
	t.Helper()
	var r struct {
		Sequential *judge.SequentialEvidence `json:"sequential"`
	}
	if err := json.Unmarshal(iv.Report, &r); err != nil || r.Sequential == nil {
		t.Fatalf("interval %d: no sequential evidence in %s (%v)", iv.Seq, iv.Report, err)
	}
	return *r.Sequential
}
