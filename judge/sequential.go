package judge

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/judge/stats"
)

// SequentialLook is one look of a sequential analysis (analysis mode
// sequential): both sides' data from the canary's start to At. Each look's
// values extend the previous look's in arrival order, and its counts do not
// decrease.
type SequentialLook struct {
	At               time.Time
	Baseline, Canary Data
}

// SequentialEvidence is what the anytime-valid tests saw at every look so
// far; the runner stores it with each look's report, so the latest one
// holds the whole history the report page plots.
type SequentialEvidence struct {
	Alpha float64 `json:"alpha"` // of the whole analysis, split over the scored metrics
	// Fits: every scored metric's confidence sequence lies inside its
	// tolerance band at the last look (what early_pass needs).
	Fits    bool               `json:"fits"`
	Metrics []SequentialMetric `json:"metrics"`
}

// Rejected reports whether a scored metric's test has rejected by now.
func (ev SequentialEvidence) Rejected() bool {
	for _, m := range ev.Metrics {
		if !m.Muted && m.RejectedAt > 0 {
			return true
		}
	}
	return false
}

// SequentialMetric is one metric's tests over the looks. The effect of a
// value metric is its shift (canary minus baseline) relative to Scale, the
// baseline median at the first look with enough data on both sides (so
// 0.3 is +30 %); the effect of a rate metric is the canary's rate divided
// by the baseline's.
type SequentialMetric struct {
	Name      string    `json:"name"`
	Rate      bool      `json:"rate"`
	Direction Direction `json:"direction"`
	Muted     bool      `json:"muted"`
	Alpha     float64   `json:"alpha"` // this metric's share of the analysis' alpha
	Scale     float64   `json:"scale,omitempty"`
	// Allowed is the tolerance band: effects inside it are no regression.
	// A side is nil when a change that way is harmless (the direction).
	Allowed Bounds            `json:"allowed"`
	Looks   []SequentialPoint `json:"looks"`
	// RejectedAt and FitsFrom are the first look (from 1) where the test
	// rejected and where the confidence sequence lay inside the band; 0:
	// not yet.
	RejectedAt int `json:"rejected_at,omitempty"`
	FitsFrom   int `json:"fits_from,omitempty"`
}

// Bounds is a range of effects; a nil side is unbounded.
type Bounds struct {
	Low  *float64 `json:"low"`
	High *float64 `json:"high"`
}

// SequentialPoint is one metric at one look.
type SequentialPoint struct {
	At        time.Time `json:"at"`
	NBaseline float64   `json:"n_baseline"` // observations; for a rate metric the denominator
	NCanary   float64   `json:"n_canary"`
	// Tested: both sides had min_samples; the rest is empty before.
	Tested bool    `json:"tested"`
	PValue float64 `json:"p_value"` // anytime-valid, never increasing
	// CS is the confidence sequence of the effect: each bound a one-sided
	// sequence at the metric's alpha (half of it with direction either).
	CS     Bounds `json:"cs"`
	Reject bool   `json:"reject"`
	Fits   bool   `json:"fits"` // CS inside Allowed
}

// JudgeSequential judges the last of the looks with the anytime-valid
// tests of judge/stats, run over every look: a metric is High (Low) once
// its test rejected "no shift beyond the allowed one" upwards (downwards)
// at any look, and Pass otherwise; no data, errors and guardrails are
// labelled as Judge labels them, and the report is scored by the same
// group rule, so a rejection of a metric in a small group can leave the
// verdict Marginal, and a group without data still never decides.
//
// The tolerance band of a metric is its allowed relative shift: for an
// increase max(min_shift, allowed_increase − 1), for a decrease
// max(min_shift, 1 − allowed_decrease) (the effect-size gates apply to
// mean_ratio only); for a rate metric the allowed ratio 1 ± that.
//
// The analysis' alpha is split over the scored metrics with
// stats.BonferroniAlpha, in proportion to each one's weight in the score,
// so that the chance that any unchanged metric is ever rejected stays
// below alpha whatever the metrics' dependence. The e-value average
// (stats.CombineEValues) needs metrics independent given the past —
// latency and errors of one service are not — and it names no metric to
// blame. A metric with direction either runs one one-sided test each way
// with half its share. Muted metrics are tested at the whole alpha: they
// decide nothing.
func JudgeSequential(cfg Config, looks []SequentialLook) (Report, SequentialEvidence) {
	cfg = cfg.WithDefaults()
	r := Report{
		Judge: cfg.Judge, Pass: cfg.Thresholds.Pass, Marginal: *cfg.Thresholds.Marginal,
		Reasons: []string{}, Warnings: []string{}, Groups: []GroupScore{}, Metrics: []MetricResult{},
	}
	ev := SequentialEvidence{Alpha: cfg.Alpha, Metrics: []SequentialMetric{}}
	if ps := cfg.problems(); len(ps) > 0 || len(looks) == 0 {
		r.Verdict = gohere.VerdictNoData
		why := "no look to judge"
		if len(ps) > 0 {
			why = "the canary config is invalid: " + strings.ReplaceAll(joinProblems(ps, nil).Error(), "\n", "; ")
		}
		r.Reasons = append(r.Reasons, why)
		return r, ev
	}
	alphas := splitAlpha(cfg)
	fits, scored := true, 0
	last := looks[len(looks)-1]
	for i, m := range cfg.Metrics {
		s := newSeqMetric(cfg, m, alphas[i])
		for j, l := range looks {
			s.look(j+1, l)
		}
		e := evaluate(cfg, m, sideOf(last.Baseline, m.Name), sideOf(last.Canary, m.Name))
		if !e.decided {
			s.classify(e, cfg)
		}
		r.Metrics = append(r.Metrics, e.res)
		ev.Metrics = append(ev.Metrics, s.out)
		if !m.Muted {
			scored++
			n := len(s.out.Looks)
			fits = fits && n > 0 && s.out.Looks[n-1].Fits && (e.res.Label == LabelPass)
		}
	}
	score(cfg, &r)
	ev.Fits = fits && scored > 0
	if ev.Fits {
		r.Reasons = append(r.Reasons, "sequential: every metric's confidence sequence lies inside its tolerance band")
	}
	return r, ev
}

func sideOf(d Data, name string) side {
	s, ok := d[name]
	return side{s, ok}
}

// splitAlpha gives every metric its share of the analysis' alpha: the
// scored ones in proportion to their weight in the score (a group's weight
// spread over its scored metrics), the muted ones the whole.
func splitAlpha(cfg Config) []float64 {
	members := map[string]int{}
	for _, m := range cfg.Metrics {
		if !m.Muted {
			for _, g := range m.Groups {
				members[g]++
			}
		}
	}
	var weighted float64
	unweighted := 0
	for g := range members {
		if w, ok := cfg.Groups[g]; ok {
			weighted += w
		} else {
			unweighted++
		}
	}
	groupWeight := func(g string) float64 {
		if w, ok := cfg.Groups[g]; ok {
			return w
		}
		return (100 - weighted) / float64(unweighted)
	}
	var idx []int
	var weights []float64
	smallest := math.MaxFloat64
	for i, m := range cfg.Metrics {
		if m.Muted {
			continue
		}
		var w float64
		for _, g := range m.Groups {
			w += groupWeight(g) / float64(members[g])
		}
		idx = append(idx, i)
		weights = append(weights, w)
		if w > 0 {
			smallest = min(smallest, w)
		}
	}
	for i, w := range weights {
		if !(w > 0) {
			// A group of weight 0 scores nothing, but its critical metrics
			// still decide: they get the smallest share.
			weights[i] = smallest
		}
	}
	out := make([]float64, len(cfg.Metrics))
	for i := range out {
		out[i] = cfg.Alpha
	}
	if len(idx) == 0 {
		return out
	}
	if smallest == math.MaxFloat64 {
		weights = nil // every weight 0: equal shares
	}
	shares, err := stats.BonferroniAlpha(cfg.Alpha, len(idx), weights)
	if err != nil { // validated config: cannot happen; equal shares are still valid
		shares, _ = stats.BonferroniAlpha(cfg.Alpha, len(idx), nil)
	}
	for k, i := range idx {
		out[i] = shares[k]
	}
	return out
}

// seqMetric runs one metric's monitors over the looks.
type seqMetric struct {
	m          Metric
	out        SequentialMetric
	up, down   float64 // allowed relative increase and decrease (rates: of the ratio)
	shiftUp    *stats.ShiftMonitor
	shiftDown  *stats.ShiftMonitor
	rateUp     *stats.RateMonitor
	rateDown   *stats.RateMonitor
	started    bool
	broken     string // why the monitors stopped: data that do not extend the previous look's
	lastResult [2]*stats.SequentialResult
}

func newSeqMetric(cfg Config, m Metric, alpha float64) *seqMetric {
	s := &seqMetric{m: m, out: SequentialMetric{Name: m.Name, Rate: m.Rate(), Direction: m.Direction, Muted: m.Muted,
		Alpha: alpha, Looks: []SequentialPoint{}}}
	s.up, s.down = *cfg.MinShift, *cfg.MinShift
	if m.EffectSize.Measure == MeanRatio {
		s.up = max(s.up, m.EffectSize.AllowedIncrease-1)
		s.down = max(s.down, 1-m.EffectSize.AllowedDecrease)
	}
	if m.Rate() {
		if m.Direction.up() {
			s.out.Allowed.High = ptr(1 + s.up)
		}
		if m.Direction.down() && s.down < 1 {
			s.out.Allowed.Low = ptr(1 - s.down)
		}
	} else {
		if m.Direction.up() {
			s.out.Allowed.High = ptr(s.up)
		}
		if m.Direction.down() {
			s.out.Allowed.Low = ptr(-s.down)
		}
	}
	return s
}

// sideAlpha is the alpha of each one-sided test.
func (s *seqMetric) sideAlpha() float64 {
	if s.out.Allowed.High != nil && s.out.Allowed.Low != nil {
		return s.out.Alpha / 2
	}
	return s.out.Alpha
}

// look feeds look j (from 1) to the monitors and records the point.
func (s *seqMetric) look(j int, l SequentialLook) {
	p := SequentialPoint{At: l.At, PValue: 1}
	var err error
	if s.m.Rate() {
		err = s.lookRate(&p, l)
	} else {
		err = s.lookValues(&p, l)
	}
	if err != nil && s.broken == "" {
		s.broken = fmt.Sprintf("look %d: %v", j, err)
	}
	if s.broken == "" && s.lastResult != [2]*stats.SequentialResult{} {
		s.point(&p)
	}
	if p.Reject && s.out.RejectedAt == 0 {
		s.out.RejectedAt = j
	}
	if p.Fits && s.out.FitsFrom == 0 {
		s.out.FitsFrom = j
	}
	s.out.Looks = append(s.out.Looks, p)
}

// arrival applies the NaN strategy in arrival order (outliers: remove needs
// the whole sample and does not apply; the rank tests are robust to them).
func arrival(values []float64, m Metric) []float64 {
	out := make([]float64, 0, len(values))
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if m.NaNStrategy != NaNReplace {
				continue
			}
			v = 0
		}
		out = append(out, v)
	}
	return out
}

func (s *seqMetric) lookValues(p *SequentialPoint, l SequentialLook) error {
	b := arrival(l.Baseline[s.m.Name].Values, s.m)
	c := arrival(l.Canary[s.m.Name].Values, s.m)
	p.NBaseline, p.NCanary = float64(len(b)), float64(len(c))
	if s.broken != "" {
		return nil
	}
	if !s.started {
		if len(b) < s.m.MinSamples || len(c) < s.m.MinSamples {
			return nil
		}
		sum := stats.Describe(b)
		scale := math.Abs(sum.Median)
		if scale == 0 {
			scale = math.Abs(sum.Mean)
		}
		if scale == 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
			scale = 1 // a baseline at 0: the effect is the shift in the metric's units
		}
		s.out.Scale = scale
		var err error
		if s.out.Allowed.High != nil {
			if s.shiftUp, err = stats.NewShiftMonitor(stats.ShiftOptions{Alpha: s.sideAlpha(), Direction: stats.Increase, Mu: s.up * scale}); err != nil {
				return err
			}
		}
		if s.out.Allowed.Low != nil {
			if s.shiftDown, err = stats.NewShiftMonitor(stats.ShiftOptions{Alpha: s.sideAlpha(), Direction: stats.Decrease, Mu: -s.down * scale}); err != nil {
				return err
			}
		}
		s.started = true
	}
	for k, mon := range []*stats.ShiftMonitor{s.shiftUp, s.shiftDown} {
		if mon == nil {
			continue
		}
		r, err := mon.Look(c, b)
		if err != nil {
			return err
		}
		r.CSLow, r.CSHigh = r.CSLow/s.out.Scale, r.CSHigh/s.out.Scale
		s.lastResult[k] = &r
	}
	p.Tested = true
	return nil
}

func (s *seqMetric) lookRate(p *SequentialPoint, l SequentialLook) error {
	b, c := l.Baseline[s.m.Name].Counts, l.Canary[s.m.Name].Counts
	if b != nil {
		p.NBaseline = b.Denominator
	}
	if c != nil {
		p.NCanary = c.Denominator
	}
	if s.broken != "" || b == nil || c == nil {
		return nil
	}
	if !s.started {
		var err error
		if hi := s.out.Allowed.High; hi != nil {
			if s.rateUp, err = stats.NewRateMonitor(stats.RateOptions{Alpha: s.sideAlpha(), Direction: stats.Increase, Ratio: *hi}); err != nil {
				return err
			}
		}
		if lo := s.out.Allowed.Low; lo != nil {
			if s.rateDown, err = stats.NewRateMonitor(stats.RateOptions{Alpha: s.sideAlpha(), Direction: stats.Decrease, Ratio: *lo}); err != nil {
				return err
			}
		}
		s.started = true
	}
	counts := stats.RateCounts{XEvents: int64(math.Round(c.Numerator)), XTotal: c.Denominator,
		YEvents: int64(math.Round(b.Numerator)), YTotal: b.Denominator}
	for k, mon := range []*stats.RateMonitor{s.rateUp, s.rateDown} {
		if mon == nil {
			continue
		}
		r, err := mon.Look(counts)
		if err != nil {
			return err
		}
		s.lastResult[k] = &r
	}
	p.Tested = p.NBaseline >= float64(s.m.MinSamples) && p.NCanary >= float64(s.m.MinSamples)
	return nil
}

// point fills a look's p-value, sequence and decisions from the monitors'
// latest results: the upward test bounds the effect from below, the
// downward one from above; with both, the p-value is Bonferroni's over the
// two halves.
func (s *seqMetric) point(p *SequentialPoint) {
	up, down := s.lastResult[0], s.lastResult[1]
	lo, hi := math.Inf(-1), math.Inf(1)
	switch {
	case up != nil && down != nil:
		lo, hi = up.CSLow, down.CSHigh
		p.PValue = min(1, 2*min(up.PValue, down.PValue))
	case up != nil:
		lo, hi, p.PValue = up.CSLow, up.CSHigh, up.PValue
	case down != nil:
		lo, hi, p.PValue = down.CSLow, down.CSHigh, down.PValue
	}
	if !p.Tested {
		return // too few observations to judge yet: the sequence is still recorded
	}
	p.CS = Bounds{Low: finite(lo), High: finite(hi)}
	p.Reject = up != nil && up.Reject || down != nil && down.Reject
	a := s.out.Allowed
	// lo > hi: the effect drifted between looks; such a sequence fits nowhere.
	p.Fits = !p.Reject && lo <= hi && (a.High == nil || hi <= *a.High) && (a.Low == nil || lo >= *a.Low)
}

// rejectedLabel is the side the test rejected at look at: the metric's
// direction, or for either the side its confidence sequence lay on (a rate
// ratio's no-change is 1, a relative shift's 0).
func (s *seqMetric) rejectedLabel(at int) Label {
	switch s.m.Direction {
	case Increase:
		return LabelHigh
	case Decrease:
		return LabelLow
	}
	neutral := 0.0
	if s.m.Rate() {
		neutral = 1
	}
	if cs := s.out.Looks[at-1].CS; cs.High != nil && *cs.High < neutral {
		return LabelLow
	}
	return LabelHigh
}

// classify labels a metric that evaluate left undecided (it had enough data
// and no guardrail hit) by its sequential tests, keeping the fixed-sample
// estimate of the last look for the report but the anytime-valid p-value
// and confidence sequence for the decision.
func (s *seqMetric) classify(e *eval, cfg Config) {
	if s.broken != "" {
		if at := s.out.RejectedAt; at > 0 {
			// A regression found stays found: a look whose data broke
			// later takes nothing back (the test is valid at any stop).
			e.decide(s.rejectedLabel(at), s.m.Critical, "rejected at look %d; the sequential test stopped later, at %s", at, s.broken)
			return
		}
		e.decide(LabelError, s.m.Critical, "the sequential test stopped at %s", s.broken)
		return
	}
	n := len(s.out.Looks)
	if n == 0 || !s.out.Looks[n-1].Tested {
		e.noData(s.m, "too few observations for the sequential test")
		return
	}
	p := s.out.Looks[n-1]
	up, down := s.lastResult[0], s.lastResult[1]
	t := e.res.Test
	if t == nil {
		t = &Test{}
		e.res.Test = t
	}
	t.Method = "sequential rank mixture"
	if s.m.Rate() {
		t.Method = "sequential count mixture"
	}
	t.Alternative = alternative(s.m.Direction)
	t.PValue = p.PValue
	// Bonferroni-adjusted: below the analysis' alpha exactly when the test
	// rejected at its share.
	t.PAdjusted = min(1, p.PValue*cfg.Alpha/s.out.Alpha)
	t.CI = nil
	if p.CS.Low != nil && p.CS.High != nil && !s.m.Rate() {
		// Each bound is a one-sided sequence at sideAlpha.
		t.CI = &Interval{Low: *p.CS.Low * s.out.Scale, High: *p.CS.High * s.out.Scale, Level: 1 - 2*s.sideAlpha()}
	}
	cs, band := p.CS.Text(s.m.Rate()), s.out.Allowed.Text(s.m.Rate())
	what := "relative shift"
	if s.m.Rate() {
		what = "rate ratio"
	}
	switch {
	case up != nil && up.Reject:
		e.res.Label = LabelHigh
	case down != nil && down.Reject:
		e.res.Label = LabelLow
	default:
		e.res.Label = LabelPass
	}
	e.res.CriticalFailure = s.m.Critical && e.res.Label != LabelPass
	verb := "does not reject"
	if e.res.Label != LabelPass {
		verb = fmt.Sprintf("rejected at look %d", s.out.RejectedAt)
	}
	e.res.Reason = fmt.Sprintf("%s: the anytime-valid test %s a %s beyond the band %s (p = %s, alpha share %s); confidence sequence %s",
		e.res.Label, verb, what, band, num(p.PValue), num(s.out.Alpha), cs)
	if e.res.CriticalFailure {
		e.res.Reason += "; critical"
	}
}

// Text prints a range of effects: relative shifts as signed percentages,
// ratios as they are.
func (b Bounds) Text(ratio bool) string {
	lo, hi := "-∞", "+∞"
	if ratio {
		lo, hi = "0", "∞"
	}
	one := func(v float64) string {
		if ratio {
			return num(v)
		}
		return signed(math.Round(v*1e4)/100) + "%"
	}
	if b.Low != nil {
		lo = one(*b.Low)
	}
	if b.High != nil {
		hi = one(*b.High)
	}
	return "[" + lo + ", " + hi + "]"
}
