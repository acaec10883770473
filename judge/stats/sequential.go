package stats

import (
	"math"

	"github.com/gohere/gohere"
)

// Direction is the harmful direction of a sequential test: the change of the
// canary relative to the baseline that the test is looking for.
type Direction string

// The directions of ShiftMonitor and RateMonitor, with the spelling of
// canary configs.
const (
	Increase Direction = "increase" // the canary above the baseline is harmful
	Decrease Direction = "decrease" // the canary below the baseline is harmful
	Either   Direction = "either"   // a change either way is harmful
)

func (d Direction) validate() error {
	switch d {
	case Increase, Decrease, Either:
		return nil
	}
	return gohere.Errorf(gohere.Invalid, "direction %q: want increase, decrease or either", string(d))
}

// SequentialResult is what one look of a sequential test reports. It is
// valid at every look at once: the probability that a true null is ever
// rejected, or that the true effect ever leaves the confidence sequence, is
// at most alpha, however many looks are taken and whenever one stops.
type SequentialResult struct {
	// PValue is the anytime-valid p-value, min(1, 1/max e) over the looks so
	// far: it never increases from one look to the next (and is 0 when the
	// evidence is beyond float64).
	PValue float64
	// EValue is the e-process at this look (not its running maximum), the
	// value to combine across metrics with CombineEValues. It is capped at
	// math.MaxFloat64.
	EValue float64
	// CSLow and CSHigh bound the effect (ShiftMonitor: the shift of the
	// canary in the metric's units; RateMonitor: the canary's rate divided by
	// the baseline's). The sequence is intersected over the looks, so it only
	// narrows. With Direction Either [CSLow, CSHigh] covers the effect at
	// every look with probability 1-alpha; with Increase or Decrease each
	// bound is a one-sided (1-alpha) confidence sequence by itself — the
	// harmful side is the one the test rejects on, the other is the bound an
	// early pass may rely on. An unbounded side is ±Inf. CSLow > CSHigh means
	// the looks disagree (the effect drifted): no single effect fits all.
	CSLow, CSHigh float64
	// Reject is PValue <= alpha: the null (no change beyond Mu or Ratio in
	// the harmful direction) is rejected at this look or was at an earlier
	// one. It equals "the null effect lies outside [CSLow, CSHigh] on the
	// harmful side", up to the end points of the sequence.
	Reject bool
}

// running is the state every sequential test shares: the running maximum of
// the e-process and the intersection of the confidence sequence.
type running struct {
	alpha   float64
	maxLogE float64
	lo, hi  float64
}

func newRunning(alpha float64) running {
	return running{alpha: alpha, lo: math.Inf(-1), hi: math.Inf(1)}
}

// update takes one look's log e-value and confidence set.
func (r *running) update(logE, lo, hi float64) SequentialResult {
	r.maxLogE = max(r.maxLogE, logE)
	r.lo, r.hi = max(r.lo, lo), min(r.hi, hi)
	p := min(1, math.Exp(-r.maxLogE))
	return SequentialResult{
		PValue: p,
		EValue: min(math.Exp(logE), math.MaxFloat64),
		CSLow:  r.lo, CSHigh: r.hi,
		Reject: p <= r.alpha,
	}
}

func checkAlpha(alpha float64) (float64, error) {
	if alpha == 0 {
		return 0.05, nil
	}
	if !(alpha > 0 && alpha < 1) {
		return 0, gohere.Errorf(gohere.Invalid, "alpha %v: want a number in (0, 1)", alpha)
	}
	return alpha, nil
}

// logSumExp is log(sum(exp(v))), without overflow.
func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// logAddExp is log(exp(a) + exp(b)).
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(a, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// mixtureGrid returns the 22 standardized parameters 2^(k/2), k = -18..3, of
// the discrete mixtures: each a likelihood ratio that is a martingale under
// the null, so their average is one too (Ville's inequality then bounds the
// chance that it ever reaches 1/alpha by alpha). A geometric grid covers
// every effect size from tiny to huge at the price of log(22) in the
// threshold, instead of tuning a prior to one expected sample size.
func mixtureGrid() []float64 {
	g := make([]float64, 0, 22)
	for k := -18; k <= 3; k++ {
		g = append(g, math.Pow(2, float64(k)/2))
	}
	return g
}

// BonferroniAlpha splits alpha over metrics in proportion to their weights
// (nil weights: equally). Monitoring metric i with its share alpha_i keeps the
// whole analysis at alpha: the chance that any metric with no real change is
// ever rejected is at most the sum of the alpha_i (a union bound over
// anytime-valid tests), whatever the dependence between the metrics.
func BonferroniAlpha(alpha float64, metrics int, weights []float64) ([]float64, error) {
	if !(alpha > 0 && alpha < 1) {
		return nil, gohere.Errorf(gohere.Invalid, "alpha %v: want a number in (0, 1)", alpha)
	}
	if metrics <= 0 {
		return nil, gohere.Errorf(gohere.Invalid, "bonferroni: %d metrics: want at least one", metrics)
	}
	if weights != nil && len(weights) != metrics {
		return nil, gohere.Errorf(gohere.Invalid, "bonferroni: %d weights for %d metrics", len(weights), metrics)
	}
	var sum float64
	for i := range metrics {
		w := 1.0
		if weights != nil {
			w = weights[i]
		}
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, gohere.Errorf(gohere.Invalid, "bonferroni: weight %d is %v: want a finite number > 0", i, w)
		}
		sum += w
	}
	out := make([]float64, metrics)
	for i := range out {
		w := 1.0
		if weights != nil {
			w = weights[i]
		}
		out[i] = alpha * w / sum
	}
	return out, nil
}

// CombineEValues averages e-values with weights (nil: equally): the average
// of e-variables is an e-variable under the global null "no metric changed",
// whatever their dependence. Reject "some metric changed" at a look when the
// running maximum of the combined value reaches 1/alpha. That is
// anytime-valid when the metrics' e-processes are supermartingales for the
// same looks given all the metrics' past (metrics whose data are independent
// given the past); for dependent metrics, or to name which metric changed, use
// BonferroniAlpha, which needs no assumption. It returns NaN for invalid
// input (no e-values, negative or NaN entries, bad weights).
func CombineEValues(e, weights []float64) float64 {
	if len(e) == 0 || weights != nil && len(weights) != len(e) {
		return math.NaN()
	}
	var sum, wsum float64
	for i, v := range e {
		w := 1.0
		if weights != nil {
			w = weights[i]
		}
		if !(v >= 0) || !(w > 0) || math.IsInf(w, 0) {
			return math.NaN()
		}
		sum += w * v
		wsum += w
	}
	return min(sum/wsum, math.MaxFloat64)
}
