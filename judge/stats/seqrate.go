package stats

import (
	"math"

	"github.com/gohere/gohere"
)

// RateOptions configure a RateMonitor. The zero value means alpha 0.05,
// direction Either and equal rates under the null.
type RateOptions struct {
	Alpha     float64   // type-I error over all looks, in (0, 1)
	Direction Direction // the harmful direction; empty means Either
	// Ratio is the canary's rate divided by the baseline's that is still no
	// regression: Increase rejects when the ratio is above it, Decrease below,
	// Either when it is not it. Zero means 1 (equal rates); 1.5 allows
	// 50 % more errors per request.
	Ratio float64
}

// RateCounts are the cumulative counts of one look since the canary started.
type RateCounts struct {
	XEvents int64   // canary events (errors)
	XTotal  float64 // canary exposure (requests; or seconds, for a rate per time)
	YEvents int64   // baseline events
	YTotal  float64 // baseline exposure
}

// rateGroup sums the events of the looks whose increments had the same
// exposure ratio: c = log(canary exposure / baseline exposure).
type rateGroup struct{ c, x, y float64 }

// rateBound bounds the log rate ratio searched for the confidence sequence
// (e^50 ≈ 5e21): beyond it a side is reported unbounded.
const rateBound = 50

// RateMonitor is the anytime-valid test and confidence sequence of the
// ratio of two event rates (errors per request) judged as counts. See the
// package documentation for the method: each event belongs to the canary
// with a probability fixed by the exposures and the rate ratio, and a
// mixture of the likelihood ratios over the rate ratio is a martingale.
//
// The likelihood sums over the distinct exposure ratios of the looks'
// increments (one for a steady traffic split), so a look costs time in
// proportion to their number: about 5 ms with 60 different ones.
//
// A RateMonitor is not safe for concurrent use.
type RateMonitor struct {
	opt    RateOptions
	run    running
	prev   RateCounts
	groups []rateGroup
	eta0   float64   // log of the null ratio
	grid   []float64 // log rate ratios of the mixture
	x, y   float64   // events in informative increments
}

// NewRateMonitor returns a monitor with no looks yet.
func NewRateMonitor(opt RateOptions) (*RateMonitor, error) {
	var err error
	if opt.Alpha, err = checkAlpha(opt.Alpha); err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "sequential rate: %w", err)
	}
	if opt.Direction == "" {
		opt.Direction = Either
	}
	if err := opt.Direction.validate(); err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "sequential rate: %w", err)
	}
	if opt.Ratio == 0 {
		opt.Ratio = 1
	}
	if !(opt.Ratio > 0) || math.IsInf(opt.Ratio, 0) {
		return nil, gohere.Errorf(gohere.Invalid, "sequential rate: ratio %v: want a finite number > 0", opt.Ratio)
	}
	m := &RateMonitor{opt: opt, run: newRunning(opt.Alpha), eta0: math.Log(opt.Ratio)}
	// Log rate ratios 2^(k/2), k = -14..5: ratios from 1.008 to 287.
	for k := -14; k <= 5; k++ {
		m.grid = append(m.grid, math.Pow(2, float64(k)/2))
	}
	return m, nil
}

// Look takes the cumulative counts since the canary started; they must not
// decrease from one look to the next (a counter reset is the caller's to
// undo).
func (m *RateMonitor) Look(c RateCounts) (SequentialResult, error) {
	p := m.prev
	switch {
	case c.XEvents < 0 || c.YEvents < 0:
		return SequentialResult{}, gohere.Errorf(gohere.Invalid,
			"sequential rate: events %d and %d: want counts >= 0", c.XEvents, c.YEvents)
	case !(c.XTotal >= 0) || !(c.YTotal >= 0) || math.IsInf(c.XTotal, 0) || math.IsInf(c.YTotal, 0):
		return SequentialResult{}, gohere.Errorf(gohere.Invalid,
			"sequential rate: totals %v and %v: want finite numbers >= 0", c.XTotal, c.YTotal)
	case c.XEvents < p.XEvents || c.XTotal < p.XTotal:
		return SequentialResult{}, gohere.Errorf(gohere.Invalid,
			"sequential rate: canary counts %d of %v are below the previous look's %d of %v",
			c.XEvents, c.XTotal, p.XEvents, p.XTotal)
	case c.YEvents < p.YEvents || c.YTotal < p.YTotal:
		return SequentialResult{}, gohere.Errorf(gohere.Invalid,
			"sequential rate: baseline counts %d of %v are below the previous look's %d of %v",
			c.YEvents, c.YTotal, p.YEvents, p.YTotal)
	}
	dxe, dye := c.XEvents-p.XEvents, c.YEvents-p.YEvents
	dxt, dyt := c.XTotal-p.XTotal, c.YTotal-p.YTotal
	switch {
	case dxe > 0 && dxt == 0:
		return SequentialResult{}, gohere.Errorf(gohere.Invalid,
			"sequential rate: %d canary events without canary exposure since the previous look", dxe)
	case dye > 0 && dyt == 0:
		return SequentialResult{}, gohere.Errorf(gohere.Invalid,
			"sequential rate: %d baseline events without baseline exposure since the previous look", dye)
	}
	m.prev = c
	// An increment with exposure on one side only says nothing about the
	// ratio: its events could only come from that side.
	if dxt > 0 && dyt > 0 && dxe+dye > 0 {
		m.add(math.Log(dxt/dyt), float64(dxe), float64(dye))
	}
	lo, hi := m.bounds()
	return m.run.update(m.logEHarm(m.eta0), math.Exp(lo), math.Exp(hi)), nil
}

func (m *RateMonitor) add(c, x, y float64) {
	m.x, m.y = m.x+x, m.y+y
	for i := range m.groups {
		if m.groups[i].c == c {
			m.groups[i].x += x
			m.groups[i].y += y
			return
		}
	}
	m.groups = append(m.groups, rateGroup{c: c, x: x, y: y})
}

// softplus is log(1 + e^z).
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// logLik is the log likelihood of the events' sides at log rate ratio eta,
// up to a constant: an event of a group is the canary's with probability
// q = r·e^eta / (1 + r·e^eta), r the group's exposure ratio.
func (m *RateMonitor) logLik(eta float64) float64 {
	var l float64
	for _, g := range m.groups {
		z := eta + g.c
		l += g.x*z - (g.x+g.y)*softplus(z)
	}
	return l
}

// logMix is the log mixture martingale against the null eta0 for rate
// ratios above it (sign +1) or below it (sign -1).
func (m *RateMonitor) logMix(eta0 float64, sign float64) float64 {
	if len(m.groups) == 0 {
		return 0
	}
	l0 := m.logLik(eta0)
	top := math.Inf(-1)
	var terms [32]float64
	for k, g := range m.grid {
		terms[k] = m.logLik(eta0+sign*g) - l0
		top = max(top, terms[k])
	}
	var sum float64
	for k := range m.grid {
		sum += math.Exp(terms[k] - top)
	}
	return top + math.Log(sum/float64(len(m.grid)))
}

func (m *RateMonitor) logEHarm(eta0 float64) float64 {
	switch m.opt.Direction {
	case Increase:
		return m.logMix(eta0, 1)
	case Decrease:
		return m.logMix(eta0, -1)
	}
	return logAddExp(m.logMix(eta0, 1), m.logMix(eta0, -1)) - math.Ln2
}

// bounds returns this look's confidence set for the log rate ratio: the
// eta0 that the e-process of each bound (one-sided, or the average of both
// sides for Either) does not reject.
func (m *RateMonitor) bounds() (lo, hi float64) {
	thr := -math.Log(m.opt.Alpha)
	lower := func(eta float64) float64 { return m.logMix(eta, 1) - thr }
	upper := func(eta float64) float64 { return m.logMix(eta, -1) - thr }
	if m.opt.Direction == Either {
		both := func(eta float64) float64 {
			return logAddExp(m.logMix(eta, 1), m.logMix(eta, -1)) - math.Ln2 - thr
		}
		lower, upper = both, both
	}
	// Only a bound that narrows the running intersection matters: when the
	// running bound itself is not rejected, this look's bound lies outside
	// it and is not searched for.
	mle := m.mle()
	lo, hi = math.Inf(-1), math.Inf(1)
	runLo, runHi := math.Inf(-1), math.Log(m.run.hi)
	if m.run.lo > 0 {
		runLo = math.Log(m.run.lo)
	}
	if m.x > 0 {
		a := max(-rateBound, min(runLo, mle))
		if fa, fb := lower(a), lower(mle); fa >= 0 && fb < 0 {
			lo, _ = zeroin(lower, a, mle, fa, fb, 1e-10, 200)
		}
	}
	if m.y > 0 {
		b := min(rateBound, max(runHi, mle))
		if fa, fb := upper(mle), upper(b); fa < 0 && fb >= 0 {
			hi, _ = zeroin(upper, mle, b, fa, fb, 1e-10, 200)
		}
	}
	return lo, hi
}

// mle is the maximum-likelihood log rate ratio, clamped to ±rateBound: the
// root of the score sum(x) - sum((x+y)·q), which decreases in eta.
func (m *RateMonitor) mle() float64 {
	switch {
	case m.x == 0:
		return -rateBound
	case m.y == 0:
		return rateBound
	case len(m.groups) == 1:
		g := m.groups[0]
		return min(max(math.Log(g.x/g.y)-g.c, -rateBound), rateBound)
	}
	score := func(eta float64) float64 {
		s := m.x
		for _, g := range m.groups {
			s -= (g.x + g.y) / (1 + math.Exp(-(eta + g.c)))
		}
		return s
	}
	fa, fb := score(-rateBound), score(rateBound)
	if fa <= 0 {
		return -rateBound
	}
	if fb >= 0 {
		return rateBound
	}
	root, _ := zeroin(score, -rateBound, rateBound, fa, fb, 1e-12, 200)
	return root
}

// SequentialRate runs a RateMonitor over the cumulative counts of the looks
// and returns one result per look.
func SequentialRate(looks []RateCounts, opt RateOptions) ([]SequentialResult, error) {
	m, err := NewRateMonitor(opt)
	if err != nil {
		return nil, err
	}
	out := make([]SequentialResult, 0, len(looks))
	for i, c := range looks {
		r, err := m.Look(c)
		if err != nil {
			return nil, gohere.Errorf(gohere.Invalid, "looks[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}
