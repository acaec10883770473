package judge

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gohere/gohere"
)

// repeat builds a sample of n copies of v.
func repeat(v float64, n int) []float64 {
	return slices.Repeat([]float64{v}, n)
}

// one judges a single value metric m (name "m") on baseline and canary.
func one(t *testing.T, cfg Config, m Metric, baseline, canary []float64) (Report, MetricResult) {
	t.Helper()
	m.Name, m.Query = "m", "q"
	cfg.Metrics = []Metric{m}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	r := Judge(cfg, Data{"m": {Values: baseline}}, Data{"m": {Values: canary}})
	return r, r.Metrics[0]
}

func relNear(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

// TestSpinnaker6278 is spinnaker/spinnaker#6278: 7 of 10 canary points at
// 100, the baseline flat at 1. Kayenta passes it (the interval touches 0);
// gohere flags it on its p-value (R: 0.0016167728306206081).
func TestJudgeSpinnaker6278(t *testing.T) {
	canary := append(repeat(100, 7), repeat(1, 3)...)
	baseline := repeat(1, 10)
	t.Run("gohere", func(t *testing.T) {
		r, m := one(t, Config{}, Metric{}, baseline, canary)
		if m.Label != LabelHigh {
			t.Fatalf("label = %s, want High (%s)", m.Label, m.Reason)
		}
		if !relNear(m.Test.PValue, 0.0016167728306206081, 1e-9) {
			t.Errorf("p = %.17g, want R's 0.0016167728306206081", m.Test.PValue)
		}
		if !relNear(m.Test.Estimate, 99, 1e-9) {
			t.Errorf("estimate = %v, want 99", m.Test.Estimate)
		}
		if r.Verdict != gohere.VerdictFail {
			t.Errorf("verdict = %s, want Fail", r.Verdict)
		}
	})
	t.Run("kayenta", func(t *testing.T) {
		r, m := one(t, Config{Judge: ModeKayenta}, Metric{}, baseline, canary)
		if m.Label != LabelPass {
			t.Errorf("label = %s, want Pass as Kayenta says (%s)", m.Label, m.Reason)
		}
		if r.Verdict != gohere.VerdictPass {
			t.Errorf("verdict = %s, want Pass", r.Verdict)
		}
	})
}

// TestTinyShiftLargeSample: a 0.1 % shift at n = m = 1e5 is significant
// but below min_shift, so it is not flagged; with min_shift 0 it is.
func TestJudgeTinyShiftLargeSample(t *testing.T) {
	if testing.Short() {
		t.Skip("1e5 samples per side")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100_000
	baseline, canary := make([]float64, n), make([]float64, n)
	for i := range n {
		baseline[i] = 100 + 0.1*rng.NormFloat64()
		canary[i] = 100.1 + 0.1*rng.NormFloat64()
	}
	_, m := one(t, Config{}, Metric{}, baseline, canary)
	if m.Label != LabelPass {
		t.Errorf("label = %s, want Pass (%s)", m.Label, m.Reason)
	}
	if m.Test == nil || !(m.Test.PAdjusted < 1e-6) {
		t.Fatalf("test = %+v, want a significant p-value so that min_shift is what keeps it Pass", m.Test)
	}
	if !strings.Contains(m.Reason, "below min_shift") {
		t.Errorf("reason %q does not name min_shift", m.Reason)
	}
	_, m = one(t, Config{MinShift: ptr(0.0)}, Metric{}, baseline, canary)
	if m.Label != LabelHigh {
		t.Errorf("with min_shift 0: label = %s, want High (%s)", m.Label, m.Reason)
	}
}

// TestConstantSamples: two constant samples have an exact shift and R's
// normal-approximation p-value (R 4.2.2 values).
func TestJudgeConstantSamples(t *testing.T) {
	for _, c := range []struct {
		name             string
		dir              Direction
		baseline, canary []float64
		want             float64
		label            Label
	}{
		{"two-sided", Either, repeat(1, 5), repeat(10, 5), 0.0039767517097886512, LabelHigh},
		{"greater", Increase, repeat(1, 5), repeat(10, 5), 0.0019883758548943256, LabelHigh},
		{"less", Decrease, repeat(3, 20), repeat(1, 7), 2.0679073075482633e-07, LabelLow},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, m := one(t, Config{}, Metric{Direction: c.dir, MinSamples: 5}, c.baseline, c.canary)
			if m.Label != c.label {
				t.Errorf("label = %s, want %s (%s)", m.Label, c.label, m.Reason)
			}
			if !relNear(m.Test.PValue, c.want, 1e-12) {
				t.Errorf("p = %.17g, want %.17g", m.Test.PValue, c.want)
			}
			if d := c.canary[0] - c.baseline[0]; m.Test.Estimate != d || m.Test.CI.Low != d || m.Test.CI.High != d {
				t.Errorf("estimate %v CI %+v, want exactly %v", m.Test.Estimate, m.Test.CI, d)
			}
		})
	}
}

// TestMinSamples: below min_samples a metric is NoData with the reason in
// gohere mode; kayenta mode judges any non-empty sample.
func TestJudgeMinSamples(t *testing.T) {
	base, can := []float64{1, 2, 3, 4, 5}, []float64{11, 12, 13, 14, 15}
	for _, c := range []struct {
		name   string
		cfg    Config
		metric Metric
		want   Label
	}{
		{"gohere default 10", Config{}, Metric{}, LabelNoData},
		{"must have data", Config{}, Metric{MustHaveData: true}, LabelNoDataFail},
		{"lowered", Config{}, Metric{MinSamples: 5}, LabelHigh},
		{"kayenta judges 5", Config{Judge: ModeKayenta}, Metric{}, LabelHigh},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, m := one(t, c.cfg, c.metric, base, can)
			if m.Label != c.want {
				t.Fatalf("label = %s, want %s (%s)", m.Label, c.want, m.Reason)
			}
			if c.want == LabelNoData {
				if !strings.Contains(m.Reason, "fewer than min_samples 10") {
					t.Errorf("reason %q does not explain min_samples", m.Reason)
				}
				if r.Verdict != gohere.VerdictNoData {
					t.Errorf("verdict = %s, want NoData", r.Verdict)
				}
			}
		})
	}
}

// TestSmallSampleWarning: under 50 samples per side gohere mode warns.
func TestJudgeSmallSampleWarning(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sample := func(n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = rng.NormFloat64()
		}
		return xs
	}
	_, m := one(t, Config{}, Metric{}, sample(20), sample(20))
	if len(m.Warnings) != 1 {
		t.Errorf("warnings = %q, want one about 20 samples", m.Warnings)
	}
	_, m = one(t, Config{}, Metric{}, sample(60), sample(60))
	if len(m.Warnings) != 0 {
		t.Errorf("warnings = %q, want none at 60 samples", m.Warnings)
	}
}

// TestZeroInflatedErrors: 12 errors in the canary against none in the
// baseline. Judged as per-interval rates, Kayenta passes it (most
// intervals are 0 on both sides); judged as counts, gohere flags it.
func TestJudgeZeroInflatedErrors(t *testing.T) {
	const intervals, perInterval = 60, 333
	baseRates := repeat(0, intervals)
	canRates := repeat(0, intervals)
	for i := 0; i < 6; i++ {
		canRates[i*10] = 2.0 / perInterval
	}
	t.Run("kayenta on rates", func(t *testing.T) {
		_, m := one(t, Config{Judge: ModeKayenta}, Metric{Direction: Increase}, baseRates, canRates)
		if m.Label != LabelPass {
			t.Errorf("label = %s, want Pass (%s)", m.Label, m.Reason)
		}
	})
	t.Run("gohere on counts", func(t *testing.T) {
		cfg := Config{Metrics: []Metric{{Name: "errors", Numerator: "n", Denominator: "d", Direction: Increase}}}
		total := float64(intervals * perInterval)
		r := Judge(cfg,
			Data{"errors": {Counts: &Counts{Numerator: 0, Denominator: total}}},
			Data{"errors": {Counts: &Counts{Numerator: 12, Denominator: total}}})
		m := r.Metrics[0]
		if m.Label != LabelHigh {
			t.Fatalf("label = %s, want High (%s)", m.Label, m.Reason)
		}
		if m.Test.Method != "proportion fisher" || !(m.Test.PValue < 0.001) {
			t.Errorf("test = %+v, want Fisher's exact test with p < 0.001", m.Test)
		}
		if m.EffectSize != nil || m.RelativeShift != nil {
			t.Errorf("effect %v, shift %v: want both undefined over a zero baseline rate", m.EffectSize, m.RelativeShift)
		}
		if r.Verdict != gohere.VerdictFail {
			t.Errorf("verdict = %s, want Fail", r.Verdict)
		}
	})
}

// TestRateMetricData covers the data problems of rate metrics.
func TestJudgeRateMetricData(t *testing.T) {
	ok := Samples{Counts: &Counts{Numerator: 5, Denominator: 1000}}
	for _, c := range []struct {
		name             string
		baseline, canary Samples
		metric           Metric
		want             Label
	}{
		{"equal rates", ok, ok, Metric{}, LabelPass},
		{"values instead of counts", ok, Samples{Values: []float64{1, 2}}, Metric{}, LabelError},
		{"numerator above denominator", ok, Samples{Counts: &Counts{Numerator: 9, Denominator: 3}}, Metric{}, LabelError},
		{"NaN count", ok, Samples{Counts: &Counts{Numerator: math.NaN(), Denominator: 3}}, Metric{}, LabelError},
		{"no canary counts", ok, Samples{}, Metric{}, LabelNoData},
		{"zero denominator", ok, Samples{Counts: &Counts{}}, Metric{}, LabelNoData},
		{"too few events", ok, Samples{Counts: &Counts{Numerator: 0, Denominator: 9}}, Metric{}, LabelNoData},
		{"guardrail max", ok, Samples{Counts: &Counts{Numerator: 6, Denominator: 1000}}, Metric{Max: ptr(0.005)}, LabelHigh},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.metric
			m.Name, m.Numerator, m.Denominator = "r", "n", "d"
			r := Judge(Config{Metrics: []Metric{m}}, Data{"r": c.baseline}, Data{"r": c.canary})
			if got := r.Metrics[0]; got.Label != c.want || got.Reason == "" {
				t.Errorf("label = %s (%q), want %s with a reason", got.Label, got.Reason, c.want)
			}
		})
	}
}

// TestGuardrails: beyond max or min the metric fails whatever the
// statistics say, even without baseline data.
func TestJudgeGuardrails(t *testing.T) {
	base := []float64{10, 11, 12, 10, 11, 12, 10, 11, 12, 11}
	for _, c := range []struct {
		name     string
		metric   Metric
		baseline []float64
		want     Label
	}{
		{"within", Metric{Max: ptr(20.0), Min: ptr(5.0)}, base, LabelPass},
		{"above max", Metric{Max: ptr(10.5)}, base, LabelHigh},
		{"below min", Metric{Min: ptr(11.5)}, base, LabelLow},
		{"above max without baseline", Metric{Max: ptr(10.5)}, nil, LabelHigh},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, m := one(t, Config{}, c.metric, c.baseline, base)
			if m.Label != c.want {
				t.Errorf("label = %s, want %s (%s)", m.Label, c.want, m.Reason)
			}
			if c.want != LabelPass && !strings.Contains(m.Reason, "guardrail") {
				t.Errorf("reason %q does not name the guardrail", m.Reason)
			}
		})
	}
}

// TestScoring covers verdicts from several metrics.
func TestJudgeScoring(t *testing.T) {
	flat := []float64{10, 11, 12, 10, 11, 12, 10, 11, 12, 11, 10, 12}
	up := []float64{20, 21, 22, 20, 21, 22, 20, 21, 22, 21, 20, 22}
	data := func(pairs map[string][2][]float64) (Data, Data) {
		b, c := Data{}, Data{}
		for name, p := range pairs {
			if p[0] != nil {
				b[name] = Samples{Values: p[0]}
			}
			if p[1] != nil {
				c[name] = Samples{Values: p[1]}
			}
		}
		return b, c
	}
	metric := func(name, group string, opts ...func(*Metric)) Metric {
		m := Metric{Name: name, Query: "q", Groups: []string{group}}
		for _, o := range opts {
			o(&m)
		}
		return m
	}
	critical := func(m *Metric) { m.Critical = true }
	muted := func(m *Metric) { m.Muted = true }
	optional := func(m *Metric) { m.Optional = true }
	for _, c := range []struct {
		name    string
		cfg     Config
		pairs   map[string][2][]float64
		score   float64
		verdict gohere.Verdict
		reason  string
	}{
		{
			name:  "critical high scores 0",
			cfg:   Config{Metrics: []Metric{metric("a", "g", critical), metric("b", "g"), metric("c", "g")}},
			pairs: map[string][2][]float64{"a": {flat, up}, "b": {flat, flat}, "c": {flat, flat}},
			score: 0, verdict: gohere.VerdictFail, reason: "critical metrics failed: a (High)",
		},
		{
			name:  "non-critical high",
			cfg:   Config{Metrics: []Metric{metric("a", "g"), metric("b", "g"), metric("c", "g")}},
			pairs: map[string][2][]float64{"a": {flat, up}, "b": {flat, flat}, "c": {flat, flat}},
			score: 66.67, verdict: gohere.VerdictFail, reason: "score 66.67 is below marginal 75",
		},
		{
			name:  "half no data scores 0",
			cfg:   Config{Metrics: []Metric{metric("a", "g"), metric("b", "g")}},
			pairs: map[string][2][]float64{"a": {flat, flat}, "b": {flat, nil}},
			score: 0, verdict: gohere.VerdictFail, reason: "1 of 2 scored metrics have no usable data (at least half): score 0",
		},
		{
			// A group without data neither scores nor fails, and the rest
			// passing is not a pass: Marginal, saying which group.
			name:  "a third no data, a whole group",
			cfg:   Config{Metrics: []Metric{metric("a", "g"), metric("b", "g"), metric("c", "h")}},
			pairs: map[string][2][]float64{"a": {flat, flat}, "b": {flat, flat}, "c": {nil, flat}},
			score: 100, verdict: gohere.VerdictMarginal, reason: "score 100.00 of the judged groups reaches pass 95, but group h: no data",
		},
		{
			// Weighted: the errors group (30) without data used to cost 30
			// points and fail a healthy canary; now it is left out.
			name: "a weighted group without data",
			cfg: Config{Groups: map[string]float64{"latency": 70, "errors": 30}, Metrics: []Metric{
				metric("p99", "latency"), metric("p50", "latency"), metric("p90", "latency"), metric("err", "errors")}},
			pairs: map[string][2][]float64{"p99": {flat, flat}, "p50": {flat, flat}, "p90": {flat, flat}, "err": {flat, nil}},
			score: 100, verdict: gohere.VerdictMarginal, reason: "score 100.00 of the judged groups reaches pass 95, but group errors: no data",
		},
		{
			// The metric that vanished may be the one that would fail.
			name:  "a third no data inside a judged group",
			cfg:   Config{Metrics: []Metric{metric("a", "g"), metric("b", "g"), metric("c", "g")}},
			pairs: map[string][2][]float64{"a": {flat, flat}, "b": {flat, flat}, "c": {nil, flat}},
			score: 100, verdict: gohere.VerdictMarginal, reason: "score 100.00 of the judged groups reaches pass 95, but metric c: no data",
		},
		{
			name:  "an optional metric without data",
			cfg:   Config{Metrics: []Metric{metric("a", "g"), metric("b", "g"), metric("c", "g", optional)}},
			pairs: map[string][2][]float64{"a": {flat, flat}, "b": {flat, flat}, "c": {nil, flat}},
			score: 100, verdict: gohere.VerdictPass, reason: "optional, without data (not scored): c",
		},
		{
			// Not "at least half without data": an optional metric that
			// vanished is not counted at all.
			name:  "an optional metric without data beside one that passes",
			cfg:   Config{Metrics: []Metric{metric("a", "g"), metric("b", "h", optional)}},
			pairs: map[string][2][]float64{"a": {flat, flat}, "b": {nil, flat}},
			score: 100, verdict: gohere.VerdictPass, reason: "optional, without data (not scored): b",
		},
		{
			name:  "only optional metrics, without data",
			cfg:   Config{Metrics: []Metric{metric("b", "h", optional)}},
			pairs: map[string][2][]float64{"b": {nil, flat}},
			score: 0, verdict: gohere.VerdictNoData, reason: "every scored metric is optional and has no data: nothing was judged",
		},
		{
			name: "no data in a group and in a judged one",
			cfg: Config{Metrics: []Metric{metric("a", "g"), metric("b", "g"), metric("c", "g"),
				metric("d", "g"), metric("e", "h")}},
			pairs: map[string][2][]float64{"a": {flat, flat}, "b": {flat, flat}, "c": {flat, flat}, "d": {flat, nil}, "e": {nil, flat}},
			score: 100, verdict: gohere.VerdictMarginal,
			reason: "score 100.00 of the judged groups reaches pass 95, but group h: no data; metric d: no data",
		},
		{
			// Below pass the score decides: a vanished metric does not
			// make a failing canary Marginal.
			name:  "no data beside a failing metric",
			cfg:   Config{Metrics: []Metric{metric("a", "g"), metric("b", "g"), metric("c", "g"), metric("d", "g")}},
			pairs: map[string][2][]float64{"a": {flat, up}, "b": {flat, up}, "c": {flat, flat}, "d": {flat, nil}},
			score: 33.33, verdict: gohere.VerdictFail, reason: "score 33.33 is below marginal 75",
		},
		{
			name:  "all no data is NoData, never Pass",
			cfg:   Config{Metrics: []Metric{metric("a", "g", critical), metric("b", "g")}},
			pairs: map[string][2][]float64{"a": {flat, nil}, "b": {nil, nil}},
			score: 0, verdict: gohere.VerdictNoData, reason: "2 of 2 scored metrics have no usable data: nothing was judged",
		},
		{
			name:  "muted high does not count",
			cfg:   Config{Metrics: []Metric{metric("a", "g", muted), metric("b", "g")}},
			pairs: map[string][2][]float64{"a": {flat, up}, "b": {flat, flat}},
			score: 100, verdict: gohere.VerdictPass, reason: "score 100.00 reaches pass 95",
		},
		{
			name:  "only muted metrics",
			cfg:   Config{Metrics: []Metric{metric("a", "g", muted)}},
			pairs: map[string][2][]float64{"a": {flat, flat}},
			score: 0, verdict: gohere.VerdictNoData, reason: "every metric is muted: nothing was judged",
		},
		{
			name: "weights and shares",
			cfg: Config{Groups: map[string]float64{"a": 50}, Metrics: []Metric{
				metric("a1", "a"), metric("b1", "b"), metric("c1", "c"), metric("c2", "c"),
			}},
			// a: 100 × 50 %, b: 0 × 25 %, c: 50 × 25 % = 62.5
			pairs: map[string][2][]float64{"a1": {flat, flat}, "b1": {flat, up}, "c1": {flat, flat}, "c2": {flat, up}},
			score: 62.5, verdict: gohere.VerdictFail, reason: "score 62.50 is below marginal 75",
		},
		{
			name: "marginal",
			cfg: Config{Thresholds: Thresholds{Pass: 80, Marginal: ptr(60.0)}, Metrics: []Metric{
				metric("a", "g"), metric("b", "g"), metric("c", "g"),
			}},
			pairs: map[string][2][]float64{"a": {flat, up}, "b": {flat, flat}, "c": {flat, flat}},
			score: 66.67, verdict: gohere.VerdictMarginal, reason: "score 66.67 is below pass 80 but reaches marginal 60",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.cfg.Validate(); err != nil {
				t.Fatalf("config: %v", err)
			}
			b, cn := data(c.pairs)
			r := Judge(c.cfg, b, cn)
			if r.Score != c.score || r.Verdict != c.verdict {
				t.Errorf("score %v verdict %s, want %v %s (reasons %q)", r.Score, r.Verdict, c.score, c.verdict, r.Reasons)
			}
			if !slices.Contains(r.Reasons, c.reason) {
				t.Errorf("reasons %q lack %q", r.Reasons, c.reason)
			}
			// Each failing metric is named once: a critical one with the
			// critical failures, not again with the failing ones.
			for _, m := range r.Metrics {
				if n := strings.Count(strings.Join(r.Reasons, "\n"), m.Name+" ("); n > 1 {
					t.Errorf("reasons %q name %s %d times", r.Reasons, m.Name, n)
				}
			}
		})
	}
}

// TestAdjustment: a p-value of 0.047 flags a metric alone or unadjusted,
// not after Holm's adjustment across two metrics.
func TestJudgeAdjustment(t *testing.T) {
	base, can := repeat(1, 3), repeat(2, 3) // two-sided p = 0.0468 (constant samples)
	other := [2][]float64{{1, 2, 3}, {1, 2, 3.5}}
	for _, c := range []struct {
		name   string
		adjust Adjust
		two    bool
		want   Label
	}{
		{"alone", AdjustHolm, false, LabelHigh},
		{"holm of two", AdjustHolm, true, LabelPass},
		{"bh of two", AdjustBH, true, LabelPass},
		{"none of two", AdjustNone, true, LabelHigh},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Adjust: c.adjust, Metrics: []Metric{{Name: "a", Query: "q", MinSamples: 3}}}
			b, cn := Data{"a": {Values: base}}, Data{"a": {Values: can}}
			if c.two {
				cfg.Metrics = append(cfg.Metrics, Metric{Name: "b", Query: "q", MinSamples: 3})
				b["b"], cn["b"] = Samples{Values: other[0]}, Samples{Values: other[1]}
			}
			r := Judge(cfg, b, cn)
			if got := r.Metrics[0]; got.Label != c.want {
				t.Errorf("label = %s, want %s (%s)", got.Label, c.want, got.Reason)
			}
		})
	}
}

// TestDirection: a significant change in the harmless direction passes.
func TestJudgeDirection(t *testing.T) {
	low := []float64{10, 11, 12, 10, 11, 12, 10, 11, 12, 11, 10, 12}
	high := []float64{20, 21, 22, 20, 21, 22, 20, 21, 22, 21, 20, 22}
	for _, mode := range []Mode{ModeGohere, ModeKayenta} {
		for _, c := range []struct {
			name             string
			dir              Direction
			baseline, canary []float64
			want             Label
			alternative      string
		}{
			{"increase up", Increase, low, high, LabelHigh, "greater"},
			{"increase down", Increase, high, low, LabelPass, "greater"},
			{"decrease up", Decrease, low, high, LabelPass, "less"},
			{"decrease down", Decrease, high, low, LabelLow, "less"},
			{"either up", Either, low, high, LabelHigh, "two.sided"},
			{"either down", Either, high, low, LabelLow, "two.sided"},
		} {
			t.Run(string(mode)+"/"+c.name, func(t *testing.T) {
				_, m := one(t, Config{Judge: mode}, Metric{Direction: c.dir}, c.baseline, c.canary)
				if m.Label != c.want {
					t.Errorf("label = %s, want %s (%s)", m.Label, c.want, m.Reason)
				}
				if m.Test == nil {
					t.Fatal("no test")
				}
				if mode == ModeGohere && string(m.Test.Alternative) != c.alternative {
					t.Errorf("alternative = %s, want %s", m.Test.Alternative, c.alternative)
				}
			})
		}
	}
}

// TestDataProblems: a missing metric, counts for a value metric, data for
// unknown metrics and an invalid config.
func TestJudgeDataProblems(t *testing.T) {
	cfg := Config{Metrics: []Metric{{Name: "m", Query: "q"}}}
	r := Judge(cfg, Data{"m": {Counts: &Counts{Numerator: 1, Denominator: 2}}}, Data{"m": {Values: repeat(1, 20)}, "x": {}})
	if got := r.Metrics[0].Label; got != LabelError {
		t.Errorf("counts for a value metric: label = %s, want Error", got)
	}
	if r.Verdict != gohere.VerdictNoData {
		t.Errorf("verdict = %s, want NoData when nothing could be judged", r.Verdict)
	}
	if !slices.Contains(r.Warnings, `canary data for "x" ignored: no such metric in the config`) {
		t.Errorf("warnings %q lack the unknown metric", r.Warnings)
	}
	bad := Judge(Config{Thresholds: Thresholds{Pass: 50, Marginal: ptr(70.0)}}, nil, nil)
	if bad.Verdict != gohere.VerdictNoData || len(bad.Reasons) != 1 || !strings.Contains(bad.Reasons[0], "invalid") {
		t.Errorf("invalid config: verdict %s reasons %q, want NoData naming the problems", bad.Verdict, bad.Reasons)
	}
}

// TestNaNAndOutliers: missing points are removed or replaced; outliers
// beyond the widened IQR fences are removed when asked.
func TestJudgeNaNAndOutliers(t *testing.T) {
	nan := math.NaN()
	vals := []float64{1, nan, 2, math.Inf(1), 3, 2, 1, 2, 3, 2, 1, 1000}
	for _, c := range []struct {
		name              string
		metric            Metric
		n, missing, outer int
	}{
		{"remove, keep", Metric{}, 10, 2, 0},
		{"replace, keep", Metric{NaNStrategy: NaNReplace}, 12, 0, 0},
		{"remove, remove outliers", Metric{Outliers: OutliersRemove}, 9, 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.metric.withDefaults(Config{})
			_, s := clean(vals, m)
			if s.N != c.n || s.Missing != c.missing || s.Outliers != c.outer {
				t.Errorf("n %d missing %d outliers %d, want %d %d %d", s.N, s.Missing, s.Outliers, c.n, c.missing, c.outer)
			}
		})
	}
}
