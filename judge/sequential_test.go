package judge

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
)

var seqT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seqLooks simulates a canary over n looks of per observations each side:
// lognormal latency (the canary's times factor) and errors of 30,000
// requests per look at rate 0.001 (the canary's times errFactor).
func seqLooks(rng *rand.Rand, n, per int, factor, errFactor float64, latencies int) []SequentialLook {
	var looks []SequentialLook
	base, can := map[string][]float64{}, map[string][]float64{}
	var be, ce, total float64
	for j := range n {
		for k := range latencies {
			name := "latency" + string(rune('a'+k))
			for range per {
				base[name] = append(base[name], math.Exp(rng.NormFloat64()*0.5))
				can[name] = append(can[name], factor*math.Exp(rng.NormFloat64()*0.5))
			}
		}
		total += 30000
		be += poisson(rng, 30)
		ce += poisson(rng, 30*errFactor)
		l := SequentialLook{At: seqT0.Add(time.Duration(j+1) * time.Minute), Baseline: Data{}, Canary: Data{}}
		for name := range base {
			l.Baseline[name] = Samples{Values: base[name][:len(base[name]):len(base[name])]}
			l.Canary[name] = Samples{Values: can[name][:len(can[name]):len(can[name])]}
		}
		l.Baseline["errors"] = Samples{Counts: &Counts{Numerator: be, Denominator: total}}
		l.Canary["errors"] = Samples{Counts: &Counts{Numerator: ce, Denominator: total}}
		looks = append(looks, l)
	}
	return looks
}

func poisson(rng *rand.Rand, mean float64) float64 {
	// Knuth's method is fine for the small means here.
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func seqConfig(latencies int, allowed float64) Config {
	cfg := Config{Analysis: &Analysis{Mode: Sequential}}
	for k := range latencies {
		cfg.Metrics = append(cfg.Metrics, Metric{Name: "latency" + string(rune('a'+k)), Query: "q", Direction: Increase,
			EffectSize: EffectSize{AllowedIncrease: allowed}})
	}
	cfg.Metrics = append(cfg.Metrics, Metric{Name: "errors", Numerator: "n", Denominator: "d", Direction: Increase,
		EffectSize: EffectSize{AllowedIncrease: allowed}})
	return cfg.WithDefaults()
}

func TestSequentialHealthyAndRegression(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := seqConfig(1, 0)
	rep, ev := JudgeSequential(cfg, seqLooks(rng, 12, 40, 1, 1, 1))
	if rep.Verdict != gohere.VerdictPass {
		t.Errorf("healthy canary: %s %v, want Pass", rep.Verdict, rep.Reasons)
	}
	if len(ev.Metrics) != 2 || len(ev.Metrics[0].Looks) != 12 {
		t.Fatalf("evidence %+v", ev)
	}
	for _, m := range ev.Metrics {
		if m.Alpha != 0.025 {
			t.Errorf("%s: alpha share %v, want 0.025", m.Name, m.Alpha)
		}
	}
	rep, ev = JudgeSequential(cfg, seqLooks(rng, 12, 40, 1.3, 1, 1))
	if rep.Verdict != gohere.VerdictFail || rep.Metrics[0].Label != LabelHigh {
		t.Fatalf("+30 %% latency: %s %v, want Fail with latency High", rep.Verdict, rep.Reasons)
	}
	if at := ev.Metrics[0].RejectedAt; at == 0 || at >= 12 {
		t.Errorf("+30 %% latency rejected at look %d, want before the last", at)
	}
	// The CS only narrows.
	var width float64 = math.Inf(1)
	for _, p := range ev.Metrics[0].Looks {
		if p.CS.Low != nil && p.CS.High != nil {
			w := *p.CS.High - *p.CS.Low
			if w > width+1e-12 {
				t.Errorf("the confidence sequence widened to %v", w)
			}
			width = w
		}
	}
}

func TestSequentialEarlyPassNeedsTheBand(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	looks := seqLooks(rng, 12, 200, 1, 1, 1)
	_, narrow := JudgeSequential(seqConfig(1, 0), looks)
	if narrow.Fits {
		t.Errorf("a ±2 %% band fits after 12 looks: %+v", narrow.Metrics[0].Looks[11])
	}
	rep, wide := JudgeSequential(seqConfig(1, 2), looks)
	if !wide.Fits || rep.Verdict != gohere.VerdictPass {
		t.Fatalf("a +100 %% band does not fit: %s %+v", rep.Verdict, wide.Metrics)
	}
	for _, m := range wide.Metrics {
		if m.FitsFrom == 0 || m.FitsFrom >= 12 {
			t.Errorf("%s fits from look %d, want before the last", m.Name, m.FitsFrom)
		}
	}
}

func TestSequentialAlphaFollowsWeights(t *testing.T) {
	cfg := seqConfig(2, 0)
	cfg.Metrics[0].Groups = []string{"latency"}
	cfg.Metrics[1].Groups = []string{"latency"}
	cfg.Metrics[2].Groups = []string{"errors"}
	cfg.Groups = map[string]float64{"latency": 50, "errors": 50}
	cfg.Metrics = append(cfg.Metrics, Metric{Name: "muted", Query: "q", Muted: true})
	cfg = cfg.WithDefaults()
	got := splitAlpha(cfg)
	want := []float64{0.0125, 0.0125, 0.025, 0.05}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("alpha of %s %v, want %v", cfg.Metrics[i].Name, got[i], want[i])
		}
	}
}

// TestSequentialAAFalseFail measures the analysis-level false-fail rate
// under continuous monitoring: A/A canaries with three latency metrics and
// one error rate, 12 looks, alpha 0.05. A sequential run fails falsely when
// any metric is ever rejected; beside it, the interval judge on the same
// data (all data so far at each look, stopping as the runner does on a Fail
// or a Marginal at or below the marginal threshold). min_shift 0 makes
// every null exactly "no change", the hardest case (with the default 2 %
// both are more conservative).
func TestSequentialAAFalseFail(t *testing.T) {
	// 2,000 runs (75 s): sequential 0.0050, interval judge 0.1880.
	runs := 150
	if testing.Short() || raceEnabled {
		runs = 20
	}
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := seqConfig(3, 0)
	cfg.MinShift = new(0.0)
	cfg = cfg.WithDefaults()
	fails, intervalFails := 0, 0
	for range runs {
		looks := seqLooks(rng, 12, 40, 1, 1, 3)
		_, ev := JudgeSequential(cfg, looks)
		for _, m := range ev.Metrics {
			if m.RejectedAt > 0 {
				fails++
				break
			}
		}
		for _, l := range looks {
			r := Judge(cfg, l.Baseline, l.Canary)
			if r.Verdict == gohere.VerdictFail || r.Verdict == gohere.VerdictMarginal && r.Score <= *cfg.Thresholds.Marginal {
				intervalFails++
				break
			}
		}
	}
	rate := float64(fails) / float64(runs)
	t.Logf("A/A false-fail rate over %d analyses of 4 metrics × 12 looks: sequential %.4f, interval judge %.4f",
		runs, rate, float64(intervalFails)/float64(runs))
	// alpha plus three binomial standard errors.
	if limit := 0.05 + 3*math.Sqrt(0.05*0.95/float64(runs)); rate > limit {
		t.Errorf("false-fail rate %.4f above %.4f", rate, limit)
	}
}

func TestSequentialConfigProblems(t *testing.T) {
	const metric = "metrics:\n  - {name: latency, query: q}\n"
	for _, tc := range []struct{ yaml, want string }{
		{"analysis: {mode: sequential, early_pass: true, interval: 5m, lifetime: 1h}\n", ""},
		{"analysis: {mode: sequential, lookback: 10m}\n", "analysis.lookback (line 3): sequential mode judges all data since the canary started"},
		{"analysis: {mode: concurrent, early_pass: true}\n", "analysis.early_pass (line 3): early_pass needs mode sequential"},
		{"analysis: {mode: sequential, offset: 1h}\n", "analysis.offset (line 3): an offset applies to before_after only"},
		{"judge: kayenta\nanalysis: {mode: sequential}\n", "analysis.mode (line 4): sequential needs judge gohere"},
		{"analysis: {mode: sequentail}\n", `"sequentail": want one of concurrent, before_after, sequential`},
	} {
		_, err := LoadConfig(strings.NewReader(metric + tc.yaml))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestSequentialRejectionSurvivesBrokenData: a regression found at an
// early look stays High when a later look's data can no longer be tested
// (the canary's series shrank: a store that lost points).
func TestSequentialRejectionSurvivesBrokenData(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	looks := seqLooks(rng, 12, 40, 1.5, 1, 1)
	last := looks[len(looks)-1]
	last.Canary["latencya"] = Samples{Values: last.Canary["latencya"].Values[:10]}
	rep, ev := JudgeSequential(seqConfig(1, 0), looks)
	m := rep.Metrics[0]
	if ev.Metrics[0].RejectedAt == 0 || m.Label != LabelHigh || !strings.Contains(m.Reason, "rejected at look") {
		t.Errorf("latency %s (%s), rejected at look %d; want High, rejected early, whatever the last look's data", m.Label, m.Reason, ev.Metrics[0].RejectedAt)
	}
}
