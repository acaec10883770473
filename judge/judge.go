package judge

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/judge/stats"
)

// Judge classifies every metric of cfg on the two sides' data, scores the
// groups and returns the verdict with its evidence. It is deterministic and
// pure. cfg should come from LoadConfig (or have passed Validate); defaults
// are applied either way. An invalid cfg gives a report with verdict NoData
// and the problems as reasons: never a pass.
//
// A metric missing from a side's Data is NoData there. Data of metrics the
// config does not name is ignored with a warning.
func Judge(cfg Config, baseline, canary Data) Report {
	cfg = cfg.WithDefaults()
	r := Report{
		Judge: cfg.Judge, Pass: cfg.Thresholds.Pass, Marginal: *cfg.Thresholds.Marginal,
		Reasons: []string{}, Warnings: []string{}, Groups: []GroupScore{}, Metrics: []MetricResult{},
	}
	if ps := cfg.problems(); len(ps) > 0 {
		r.Verdict = gohere.VerdictNoData
		r.Reasons = append(r.Reasons, "the canary config is invalid: "+strings.ReplaceAll(joinProblems(ps, nil).Error(), "\n", "; "))
		return r
	}
	evals := make([]*eval, len(cfg.Metrics))
	for i, m := range cfg.Metrics {
		b, bok := baseline[m.Name]
		c, cok := canary[m.Name]
		evals[i] = evaluate(cfg, m, side{b, bok}, side{c, cok})
	}
	adjustP(cfg.Adjust, evals)
	for i, e := range evals {
		if !e.decided {
			e.classify(cfg, cfg.Metrics[i])
		}
		r.Metrics = append(r.Metrics, e.res)
	}
	for _, d := range []struct {
		name string
		data Data
	}{{"baseline", baseline}, {"canary", canary}} {
		for _, name := range slices.Sorted(maps.Keys(d.data)) {
			if !slices.ContainsFunc(cfg.Metrics, func(m Metric) bool { return m.Name == name }) {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s data for %q ignored: no such metric in the config", d.name, name))
			}
		}
	}
	score(cfg, &r)
	return r
}

// side is one side's data for a metric and whether it was there at all.
type side struct {
	Samples
	ok bool
}

// eval is a metric on its way to a label: what the statistics found, and
// the label once decided.
type eval struct {
	res     MetricResult
	decided bool
	effect  float64 // NaN: undefined
	shift   float64 // relative shift; NaN: not applicable
	up      bool    // the canary is above the baseline
}

func evaluate(cfg Config, m Metric, b, c side) *eval {
	e := &eval{res: MetricResult{
		Name: m.Name, Rate: m.Rate(), Groups: m.Groups, Direction: m.Direction,
		Critical: m.Critical, Muted: m.Muted, EffectMeasure: m.EffectSize.Measure,
	}, effect: math.NaN(), shift: math.NaN()}
	if m.Rate() {
		e.evaluateRate(cfg, m, b, c)
	} else {
		e.evaluateValues(cfg, m, b, c)
	}
	return e
}

// decide fixes the label before any test rule runs.
func (e *eval) decide(l Label, critical bool, format string, args ...any) {
	e.res.Label, e.res.CriticalFailure, e.decided = l, critical, true
	e.res.Reason = fmt.Sprintf(format, args...)
}

// noData labels a metric without enough data: NoDataFail when it must have
// data, and a critical failure when it is critical (as Kayenta does).
func (e *eval) noData(m Metric, format string, args ...any) {
	l := LabelNoData
	if m.MustHaveData {
		l = LabelNoDataFail
	}
	e.decide(l, m.Critical, format, args...)
}

// guardrail checks the canary's mean (or rate) against max and min.
func (e *eval) guardrail(m Metric, v float64, what string) bool {
	switch {
	case m.Max != nil && v > *m.Max:
		e.decide(LabelHigh, m.Critical, "the canary's %s %s is above the guardrail max %s", what, num(v), num(*m.Max))
	case m.Min != nil && v < *m.Min:
		e.decide(LabelLow, m.Critical, "the canary's %s %s is below the guardrail min %s", what, num(v), num(*m.Min))
	default:
		return false
	}
	return true
}

func (e *eval) evaluateValues(cfg Config, m Metric, b, c side) {
	for _, s := range []struct {
		name string
		side
	}{{"baseline", b}, {"canary", c}} {
		if s.ok && s.Counts != nil && len(s.Values) == 0 {
			e.decide(LabelError, m.Critical, "the %s data has counts but %s is a value metric: give its values", s.name, m.Name)
			return
		}
	}
	bv, bs := clean(b.Values, m)
	cv, cs := clean(c.Values, m)
	if overflows(bs.Summary) || overflows(cs.Summary) {
		e.decide(LabelError, m.Critical, "the values are too large to summarise in float64")
		return
	}
	e.res.Baseline, e.res.Canary = bs, cs
	if cs.N > 0 && e.guardrail(m, cs.Mean, "mean") {
		return
	}
	if why := tooFew("baseline", bs.N, b.ok, m.MinSamples); why != "" {
		e.noData(m, "%s", why)
		return
	}
	if why := tooFew("canary", cs.N, c.ok, m.MinSamples); why != "" {
		e.noData(m, "%s", why)
		return
	}
	if cfg.Judge == ModeGohere && min(bs.N, cs.N) < WarnSamples {
		e.res.Warnings = append(e.res.Warnings, fmt.Sprintf(
			"only %d baseline and %d canary samples: small differences go unnoticed below %d per side", bs.N, cs.N, WarnSamples))
	}
	if slices.Equal(bv, cv) { // clean sorts
		e.decide(LabelPass, false, "the canary and baseline samples are identical")
		return
	}
	if bv[0] == bv[len(bv)-1] && cv[0] == cv[len(cv)-1] && bv[0] == cv[0] {
		e.decide(LabelPass, false, "every sample on both sides is %s", num(bv[0]))
		return
	}
	switch m.EffectSize.Measure {
	case CLES:
		e.effect = cles(cv, bv)
	default:
		e.effect = meanRatio(cs.Mean, bs.Mean)
	}
	e.res.EffectSize = finite(e.effect)
	t, err := shiftTest(cfg, m, cv, bv)
	if err != nil {
		e.decide(LabelError, m.Critical, "the test failed: %v", err)
		return
	}
	e.res.Test = t
	e.up = t.W > float64(len(cv)*len(bv))/2
	ref := bs.Median
	if ref == 0 {
		ref = bs.Mean
	}
	if ref != 0 {
		e.shift = math.Abs(t.Estimate) / math.Abs(ref)
		e.res.RelativeShift = finite(e.shift)
	}
}

// meanRatio is canary / baseline, NaN (undefined) over a zero baseline.
func meanRatio(canary, baseline float64) float64 {
	if baseline == 0 {
		return math.NaN()
	}
	return canary / baseline
}

// overflows reports a summary that float64 could not hold (sums of values
// near 1e308), which would be no evidence and cannot be encoded as JSON.
func overflows(s stats.Summary) bool {
	for _, v := range []float64{s.Mean, s.Std, s.Median, s.P90, s.P99} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

// tooFew explains why a side has too little data, or returns "".
func tooFew(name string, n int, present bool, minSamples int) string {
	switch {
	case !present:
		return fmt.Sprintf("no %s data", name)
	case n == 0:
		return fmt.Sprintf("the %s has no valid samples", name)
	case n < minSamples:
		return fmt.Sprintf("the %s has %d samples, fewer than min_samples %d", name, n, minSamples)
	}
	return ""
}

// clean applies the NaN strategy and the outlier rule and returns the
// values sorted, with their description.
func clean(values []float64, m Metric) ([]float64, Side) {
	var s Side
	out := make([]float64, 0, len(values))
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if m.NaNStrategy != NaNReplace {
				s.Missing++
				continue
			}
			v = 0
		}
		out = append(out, v)
	}
	slices.Sort(out)
	if m.Outliers == OutliersRemove && len(out) > 0 {
		lo, hi := iqrFences(out, m.OutlierFactor, true)
		kept := out[:0]
		for _, v := range out {
			if v >= lo && v <= hi {
				kept = append(kept, v)
			}
		}
		s.Outliers = len(out) - len(kept)
		out = kept
	}
	s.Summary = stats.Describe(out)
	return out, s
}

// iqrFences are Kayenta's IQRDetector fences over ascending data: the
// quartiles ∓ factor·IQR, widened to the 1st and 99th percentiles when
// reduceSensitivity is set (as its judge does).
func iqrFences(sorted []float64, factor float64, reduceSensitivity bool) (lo, hi float64) {
	q1, q3 := stats.Quantile(sorted, 0.25), stats.Quantile(sorted, 0.75)
	lo, hi = q1-factor*(q3-q1), q3+factor*(q3-q1)
	if reduceSensitivity {
		lo, hi = min(lo, stats.Quantile(sorted, 0.01)), max(hi, stats.Quantile(sorted, 0.99))
	}
	return lo, hi
}

// cles is P(x > y) + ½P(x = y) over all pairs, from ascending samples.
func cles(x, y []float64) float64 {
	var below, upTo int // y[:below] < v, y[:upTo] <= v; both grow with v
	var wins float64
	for _, v := range x {
		for below < len(y) && y[below] < v {
			below++
		}
		upTo = max(upTo, below)
		for upTo < len(y) && y[upTo] <= v {
			upTo++
		}
		wins += float64(below) + float64(upTo-below)/2
	}
	return wins / float64(len(x)*len(y))
}

var noExact = false

// shiftTest runs the Mann-Whitney test of the mode on ascending samples.
func shiftTest(cfg Config, m Metric, canary, baseline []float64) (*Test, error) {
	if canary[0] == canary[len(canary)-1] && baseline[0] == baseline[len(baseline)-1] {
		return constantTest(cfg, m, canary, baseline), nil
	}
	opt := stats.DefaultMannWhitney()
	opt.ConfLevel = cfg.Confidence
	if cfg.Judge == ModeKayenta {
		opt.Exact, opt.TolRoot, opt.CorrectEstimate = &noExact, 1e-4, true
	}
	res, err := stats.MannWhitney(canary, baseline, opt)
	if err != nil {
		return nil, err
	}
	t := &Test{
		Method: "mann-whitney " + res.Method, Alternative: stats.TwoSided,
		PValue: res.PValue, W: res.W, Estimate: res.Estimate,
		CI: &Interval{Low: res.CILow, High: res.CIHigh, Level: res.ConfLevel},
	}
	if alt := alternative(m.Direction); cfg.Judge == ModeGohere && alt != stats.TwoSided {
		opt.Alternative = alt
		dir, err := stats.MannWhitney(canary, baseline, opt)
		if err != nil {
			return nil, err
		}
		t.Alternative, t.PValue = alt, dir.PValue
	}
	return t, nil
}

func alternative(d Direction) stats.Alternative {
	switch d {
	case Increase:
		return stats.Greater
	case Decrease:
		return stats.Less
	}
	return stats.TwoSided
}

// constantTest handles two constant samples of different values, where R's
// wilcox.test has a p-value but no interval (the shift is known exactly)
// and the kernel returns ErrAllTied: the estimate and interval are the
// difference, the p-value is R's normal approximation with ties and
// continuity correction for this case.
func constantTest(cfg Config, m Metric, canary, baseline []float64) *Test {
	d := canary[0] - baseline[0]
	n, k := float64(len(canary)), float64(len(baseline))
	w := 0.0
	if d > 0 {
		w = n * k
	}
	z := w - n*k/2
	nn := n + k
	sigma := math.Sqrt(n * k / 12 * ((nn + 1) - (n*n*n-n+k*k*k-k)/(nn*(nn-1))))
	alt := stats.TwoSided
	if cfg.Judge == ModeGohere {
		alt = alternative(m.Direction)
	}
	var p float64
	switch alt {
	case stats.Greater:
		p = pnormUpper((z - 0.5) / sigma)
	case stats.Less:
		p = pnormLower((z + 0.5) / sigma)
	default:
		zc := (z - math.Copysign(0.5, z)) / sigma
		p = min(1, 2*min(pnormLower(zc), pnormUpper(zc)))
	}
	return &Test{
		Method: "mann-whitney normal (constant samples)", Alternative: alt,
		PValue: p, W: w, Estimate: d, CI: &Interval{Low: d, High: d, Level: 1},
	}
}

func pnormLower(z float64) float64 { return math.Erfc(-z/math.Sqrt2) / 2 }
func pnormUpper(z float64) float64 { return math.Erfc(z/math.Sqrt2) / 2 }

func (e *eval) evaluateRate(cfg Config, m Metric, b, c side) {
	var counts [2][2]int64
	for i, s := range []struct {
		name string
		side
		out *Side
	}{{"baseline", b, &e.res.Baseline}, {"canary", c, &e.res.Canary}} {
		switch {
		case s.ok && s.Counts == nil && len(s.Values) > 0:
			e.decide(LabelError, m.Critical, "the %s data has values but %s is a rate metric: give numerator and denominator totals", s.name, m.Name)
			return
		case !s.ok || s.Counts == nil:
			e.noData(m, "no %s counts", s.name)
			return
		}
		num, den := s.Counts.Numerator, s.Counts.Denominator
		if !(num >= 0 && den >= 0 && num <= den) || math.IsInf(den, 0) {
			e.decide(LabelError, m.Critical, "the %s counts %v of %v are not 0 <= numerator <= denominator", s.name, num, den)
			return
		}
		cnt := *s.Counts
		s.out.Counts = &cnt
		if den > 0 {
			s.out.RateValue = ptr(num / den)
		}
		counts[i] = [2]int64{int64(math.Round(num)), int64(math.Round(den))}
	}
	if rc := e.res.Canary.RateValue; rc != nil && e.guardrail(m, *rc, "rate") {
		return
	}
	for i, name := range []string{"baseline", "canary"} {
		if den := counts[i][1]; den == 0 || den < int64(m.MinSamples) {
			e.noData(m, "the %s has %d events in the denominator, fewer than min_samples %d", name, den, m.MinSamples)
			return
		}
	}
	kb, nb, kc, nc := counts[0][0], counts[0][1], counts[1][0], counts[1][1]
	alt := alternative(m.Direction)
	res, err := stats.ProportionTest(kc, nc, kb, nb, alt)
	if err != nil {
		e.decide(LabelError, m.Critical, "the test failed: %v", err)
		return
	}
	e.res.Test = &Test{Method: "proportion " + res.Method, Alternative: alt, PValue: res.PValue, Estimate: res.P1 - res.P2}
	e.up = res.P1 > res.P2
	if res.P2 > 0 {
		e.effect = meanRatio(res.P1, res.P2)
		e.res.EffectSize = finite(e.effect)
		e.shift = math.Abs(res.P1-res.P2) / res.P2
		e.res.RelativeShift = finite(e.shift)
	}
}

// adjustP fills PAdjusted across every metric that has a test.
func adjustP(method Adjust, evals []*eval) {
	var ps []float64
	var tests []*Test
	for _, e := range evals {
		if e.res.Test != nil {
			ps = append(ps, e.res.Test.PValue)
			tests = append(tests, e.res.Test)
		}
	}
	adj := ps
	switch method {
	case AdjustHolm:
		adj = stats.AdjustHolm(ps)
	case AdjustBH:
		adj = stats.AdjustBH(ps)
	}
	for i, t := range tests {
		t.PAdjusted = adj[i]
	}
}

// classify applies the mode's rule to a tested metric. Rate metrics always
// take the p-value rule: Kayenta has none for counts.
func (e *eval) classify(cfg Config, m Metric) {
	t := e.res.Test
	var high, low bool
	var why string
	if cfg.Judge == ModeKayenta && !m.Rate() {
		tol := *cfg.Tolerance
		if m.Tolerance != nil {
			tol = *m.Tolerance
		}
		bound := tol * math.Abs(t.Estimate)
		high = m.Direction.up() && t.CI.Low > bound && e.effectAtLeast(m.EffectSize.AllowedIncrease)
		low = m.Direction.down() && t.CI.High < -bound && e.effectAtMost(m.EffectSize.AllowedDecrease)
		why = fmt.Sprintf("the %s%% interval [%s, %s] of the shift %s against ±%s·|estimate| = ±%s",
			num(100*t.CI.Level), num(t.CI.Low), num(t.CI.High), kayentaVerb(high, low), num(tol), num(bound))
	} else {
		sig := t.PAdjusted < cfg.Alpha
		big := math.IsNaN(e.shift) || e.shift >= *cfg.MinShift
		high = m.Direction.up() && e.up && sig && big && e.effectAtLeast(m.EffectSize.AllowedIncrease)
		low = m.Direction.down() && !e.up && sig && big && e.effectAtMost(m.EffectSize.AllowedDecrease)
		why = gohereWhy(cfg, e, sig, big)
	}
	effect := e.effectText(m)
	switch {
	case high:
		e.res.Label = LabelHigh
		e.res.CriticalFailure = m.Critical && e.effectAtLeast(m.EffectSize.CriticalIncrease)
	case low:
		e.res.Label = LabelLow
		e.res.CriticalFailure = m.Critical && e.effectAtMost(m.EffectSize.CriticalDecrease)
	default:
		e.res.Label = LabelPass
	}
	e.res.Reason = fmt.Sprintf("%s: %s; %s", e.res.Label, why, effect)
	if e.res.CriticalFailure {
		e.res.Reason += "; critical"
	}
}

// effectAtLeast: an undefined effect size (zero baseline) passes any gate,
// as in Kayenta, where NaN compares to nothing and a zero baseline cannot
// mask a change.
func (e *eval) effectAtLeast(v float64) bool { return math.IsNaN(e.effect) || e.effect >= v }
func (e *eval) effectAtMost(v float64) bool  { return math.IsNaN(e.effect) || e.effect <= v }

func (e *eval) effectText(m Metric) string {
	if math.IsNaN(e.effect) {
		return fmt.Sprintf("%s undefined (baseline at 0)", m.EffectSize.Measure)
	}
	return fmt.Sprintf("%s %s (%s)", m.EffectSize.Measure, num(e.effect), effectGate(m))
}

// effectGate says from which effect size a shift counts, in the metric's
// direction(s).
func effectGate(m Metric) string {
	up := "an increase counts from " + num(m.EffectSize.AllowedIncrease)
	down := "a decrease counts from " + num(m.EffectSize.AllowedDecrease)
	switch {
	case !m.Direction.down():
		return up
	case !m.Direction.up():
		return down
	}
	return up + ", " + down
}

func kayentaVerb(high, low bool) string {
	switch {
	case high:
		return "lies above"
	case low:
		return "lies below"
	}
	return "is not beyond"
}

func gohereWhy(cfg Config, e *eval, sig, big bool) string {
	t := e.res.Test
	s := fmt.Sprintf("shift %s, adjusted p = %s", signed(t.Estimate), num(t.PAdjusted))
	if sig {
		s += fmt.Sprintf(" < alpha %s", num(cfg.Alpha))
	} else {
		s += fmt.Sprintf(" >= alpha %s, not significant", num(cfg.Alpha))
	}
	switch {
	case math.IsNaN(e.shift):
	case big:
		s += fmt.Sprintf(", relative shift %s%%", num(100*e.shift))
	default:
		s += fmt.Sprintf(", relative shift %s%% below min_shift %s%%", num(100*e.shift), num(100**cfg.MinShift))
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// finite points to v, or is nil when v is NaN or infinite (JSON has
// neither; the report shows them as undefined).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
