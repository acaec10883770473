package stats

import (
	"math"
	"math/bits"
	"slices"

	"github.com/gohere/gohere"
)

// ShiftOptions configure a ShiftMonitor. The zero value means alpha 0.05,
// direction Either, no shift under the null and blocks chosen at the first
// look.
type ShiftOptions struct {
	Alpha     float64   // type-I error over all looks, in (0, 1)
	Direction Direction // the harmful direction; empty means Either
	// Mu is the shift (canary minus baseline, in the metric's units) that is
	// still no regression: the test rejects when the shift is above Mu
	// (Increase), below Mu (Decrease) or not Mu (Either). Zero tests "no
	// shift"; an allowed increase of 5 ms is Mu 0.005 for a metric in seconds.
	Mu float64
	// Log compares the logarithms of the observations (all must be > 0):
	// the effect is then the ratio canary/baseline (1.2 is 20 % more, a
	// multiplicative shift, which is how latency usually regresses), CSLow
	// and CSHigh are ratios, and Mu is the ratio under the null (0 means 1).
	Log bool
	// Block is the number of canary and baseline observations per block, [a,
	// b] with a, b >= 1 and a·b <= 4096. Zero means: chosen at the first look
	// with observations in both samples, about 16 observations in the ratio of
	// that look's counts (8+8 for equal traffic, 2+18 for a 10 % canary).
	Block [2]int
}

const (
	blockTarget   = 16   // observations per block when the design is chosen
	maxBlockCells = 4096 // a·b: the differences kept per block of a+b observations
	sortedMax     = 1 << 16
)

// ShiftMonitor is the anytime-valid test and confidence sequence of the
// shift between canary (x) and baseline (y) of a value metric (latency,
// CPU), looked at as often as one likes. See the package documentation for
// the method: Mann-Whitney statistics of time-ordered blocks, combined by a
// mixture martingale.
//
// A ShiftMonitor is not safe for concurrent use.
type ShiftMonitor struct {
	opt         ShiftOptions
	run         running
	a, b        int
	theta, logZ []float64 // the mixture: per-block parameters and log E0[exp(theta·(U - ab/2))]
	nx, ny      int       // observations seen
	blocks      int
	px, py      int // the first observations not in a block yet
	// nx0, ny0: the counts at the end of the previous look; lastX, lastY: at
	// the end of the look before it.
	nx0, ny0, lastX, lastY int
	diffs                  []float64 // x - y within every complete block; ascending when sorted
	sorted                 bool
	buf                    []float64
	s2                     int64   // twice S(mu): pairs with x - y > mu, plus half the ties
	mu                     float64 // Mu, or its log with Log
	logEMu                 float64
	lx, ly                 []float64 // one block's observations, or their logs
}

// NewShiftMonitor returns a monitor with no looks yet.
func NewShiftMonitor(opt ShiftOptions) (*ShiftMonitor, error) {
	var err error
	if opt.Alpha, err = checkAlpha(opt.Alpha); err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "sequential shift: %w", err)
	}
	if opt.Direction == "" {
		opt.Direction = Either
	}
	if err := opt.Direction.validate(); err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "sequential shift: %w", err)
	}
	if math.IsNaN(opt.Mu) || math.IsInf(opt.Mu, 0) {
		return nil, gohere.Errorf(gohere.Invalid, "sequential shift: mu %v: want a finite number", opt.Mu)
	}
	m := &ShiftMonitor{opt: opt, run: newRunning(opt.Alpha), sorted: true, mu: opt.Mu}
	if opt.Log {
		if opt.Mu == 0 {
			opt.Mu = 1
		}
		if opt.Mu < 0 {
			return nil, gohere.Errorf(gohere.Invalid, "sequential shift: mu %v: with log, want a ratio > 0", opt.Mu)
		}
		m.opt.Mu, m.mu = opt.Mu, math.Log(opt.Mu)
	}
	if opt.Block != [2]int{} {
		a, b := opt.Block[0], opt.Block[1]
		if a < 1 || b < 1 || a*b > maxBlockCells {
			return nil, gohere.Errorf(gohere.Invalid,
				"sequential shift: block [%d, %d]: want a, b >= 1 and a·b <= %d", a, b, maxBlockCells)
		}
		m.design(a, b)
	}
	return m, nil
}

// Block returns the block design [a, b] (canary, baseline observations per
// block), or [0, 0] while it is not chosen yet.
func (m *ShiftMonitor) Block() [2]int { return [2]int{m.a, m.b} }

// chooseBlock picks about blockTarget observations per block in the ratio
// nx:ny, both > 0.
func chooseBlock(nx, ny int) (a, b int) {
	small, large := nx, ny
	if nx > ny {
		small, large = ny, nx
	}
	s := max(1, int(math.Round(blockTarget*float64(small)/float64(small+large))))
	l := int(math.Round(float64(s) * float64(large) / float64(small)))
	l = min(max(l, 1), maxBlockCells/s)
	if nx > ny {
		return l, s
	}
	return s, l
}

// design fixes the blocks and the mixture: for each standardized parameter
// g of mixtureGrid, theta = g / sd(U) under the null.
func (m *ShiftMonitor) design(a, b int) {
	m.a, m.b = a, b
	sd := math.Sqrt(float64(a*b) * float64(a+b+1) / 12)
	for _, g := range mixtureGrid() {
		th := g / sd
		m.theta = append(m.theta, th)
		m.logZ = append(m.logZ, logMGFWilcox(a, b, th))
	}
}

// logMGFWilcox is log E0[exp(theta·(U - ab/2))] for the Mann-Whitney U of a
// against b observations under the null. The generating function of U is
// the Gaussian binomial coefficient, sum_u c(u) q^u = prod_{i=1..a}
// (1 - q^(b+i)) / (1 - q^i), with c(u) the orderings with U = u out of
// (a+b choose a). With q = e^theta, 1 - q^k = -2 e^(k·theta/2) sinh(k·theta/2),
// and the powers of e and the binomial coefficient cancel against the
// centring and the normalisation, leaving
// sum_{i=1..a} [h(theta(b+i)) - h(theta·i)] with h(x) = log(sinh(x/2)/(x/2)):
// no cancellation for small theta, and even in theta (U - ab/2 is
// symmetric).
func logMGFWilcox(a, b int, theta float64) float64 {
	th := math.Abs(theta)
	var l float64
	for i := 1; i <= a; i++ {
		l += logSinhc(th*float64(b+i)/2) - logSinhc(th*float64(i)/2)
	}
	return l
}

// logSinhc is log(sinh(y)/y) for y >= 0.
func logSinhc(y float64) float64 {
	switch {
	case y < 0.1:
		t := y * y // sinh(y)/y = 1 + t/6 + t²/120 + t³/5040 + t⁴/362880 + O(y¹⁰)
		return math.Log1p(t * (1.0/6 + t*(1.0/120+t*(1.0/5040+t/362880))))
	case y < 20:
		return math.Log(math.Sinh(y) / y)
	}
	return y - math.Log(2*y) + math.Log1p(-math.Exp(-2*y))
}

// Look takes all observations since the canary started, in arrival order:
// x (canary) and y (baseline) must extend the slices of the previous look
// (only their lengths are checked). Observations are grouped into blocks of
// a canary and b baseline ones in arrival order; what does not fill a block
// waits for the next look, but not for a second one: observations that
// arrived before the previous look and are still in no block are dropped,
// so a block's two sides are never far apart in time. Looks without a new
// block change nothing.
func (m *ShiftMonitor) Look(x, y []float64) (SequentialResult, error) {
	if len(x) < m.nx || len(y) < m.ny {
		return SequentialResult{}, gohere.Errorf(gohere.Invalid,
			"sequential shift: %d canary and %d baseline observations, fewer than the %d and %d of the previous look",
			len(x), len(y), m.nx, m.ny)
	}
	for _, in := range []struct {
		name string
		v    []float64
		from int
	}{{"x", x, m.nx}, {"y", y, m.ny}} {
		for i := in.from; i < len(in.v); i++ {
			if v := in.v[i]; math.IsNaN(v) || math.IsInf(v, 0) {
				return SequentialResult{}, gohere.Errorf(gohere.Invalid,
					"sequential shift: %s[%d] is %v: remove missing values first", in.name, i, v)
			} else if m.opt.Log && !(v > 0) {
				return SequentialResult{}, gohere.Errorf(gohere.Invalid,
					"sequential shift: %s[%d] is %v: log needs values > 0", in.name, i, v)
			}
		}
	}
	snap := *m // to undo this look on an error
	if m.a == 0 && len(x) > 0 && len(y) > 0 {
		m.design(chooseBlock(len(x), len(y)))
	}
	m.nx, m.ny = len(x), len(y)
	if m.a == 0 {
		return m.run.update(0, math.Inf(-1), math.Inf(1)), nil
	}
	old := len(m.diffs)
	mu := m.mu
	// Observations left over from before the previous look are dropped, so
	// that a block never spans more than two looks: with uneven arrivals the
	// two samples' positions would otherwise drift apart in time.
	m.px, m.py = max(m.px, m.lastX), max(m.py, m.lastY)
	m.lastX, m.lastY = m.nx0, m.ny0
	m.nx0, m.ny0 = len(x), len(y)
	for ; m.px+m.a <= len(x) && m.py+m.b <= len(y); m.blocks++ {
		xs := x[m.px : m.px+m.a]
		ys := y[m.py : m.py+m.b]
		m.px, m.py = m.px+m.a, m.py+m.b
		if m.opt.Log {
			m.lx, m.ly = m.lx[:0], m.ly[:0]
			for _, v := range xs {
				m.lx = append(m.lx, math.Log(v))
			}
			for _, v := range ys {
				m.ly = append(m.ly, math.Log(v))
			}
			xs, ys = m.lx, m.ly
		}
		for _, xv := range xs {
			for _, yv := range ys {
				d := xv - yv
				if math.IsInf(d, 0) {
					*m = snap
					return SequentialResult{}, gohere.Errorf(gohere.Invalid,
						"sequential shift: differences of the samples overflow float64")
				}
				m.diffs = append(m.diffs, d)
				switch {
				case d > mu:
					m.s2 += 2
				case d == mu:
					m.s2++
				}
			}
		}
	}
	if len(m.diffs) == old && old > 0 {
		// No new block: nothing changed.
		return m.run.update(m.logEMu, m.run.lo, m.run.hi), nil
	}
	m.arrange(old)
	p := int64(len(m.diffs))
	k := m.threshold(p)
	lo, hi := math.Inf(-1), math.Inf(1)
	if k <= p {
		lo, hi = m.orderStats(int(p-k), int(k-1))
	}
	if m.opt.Log {
		lo, hi = math.Exp(lo), math.Exp(hi)
	}
	s := float64(m.s2-p) / 2
	m.logEMu = m.logEHarm(s)
	return m.run.update(m.logEMu, lo, hi), nil
}

// arrange keeps diffs sorted when that is cheap: the new differences (from
// index old) are sorted and merged in when they are few, and everything is
// sorted while small; otherwise orderStats selects.
func (m *ShiftMonitor) arrange(old int) {
	n := len(m.diffs)
	switch {
	case m.sorted && (n-old)*4 <= old:
		tail := m.diffs[old:]
		slices.Sort(tail)
		m.buf = append(m.buf[:0], tail...)
		i, j := old-1, len(m.buf)-1
		for k := n - 1; j >= 0; k-- {
			if i >= 0 && m.diffs[i] > m.buf[j] {
				m.diffs[k] = m.diffs[i]
				i--
			} else {
				m.diffs[k] = m.buf[j]
				j--
			}
		}
	case n <= sortedMax:
		slices.Sort(m.diffs)
		m.sorted = true
	default:
		m.sorted = false
	}
}

// orderStats returns the 0-based order statistics i <= j of diffs.
func (m *ShiftMonitor) orderStats(i, j int) (float64, float64) {
	if m.sorted {
		return m.diffs[i], m.diffs[j]
	}
	lo := selectK(m.diffs, i)
	return lo, selectK(m.diffs[i:], j-i)
}

// logEUp is the log of the mixture martingale for an upward shift at the
// centred block statistic s = S - P/2: mean over the grid of
// exp(theta·s - blocks·logZ(theta)).
func (m *ShiftMonitor) logEUp(s float64) float64 {
	n := float64(m.blocks)
	top := math.Inf(-1)
	for k, th := range m.theta {
		top = max(top, th*s-n*m.logZ[k])
	}
	var sum float64
	for k, th := range m.theta {
		sum += math.Exp(th*s - n*m.logZ[k] - top)
	}
	return top + math.Log(sum/float64(len(m.theta)))
}

// logEBounds is the log e-process whose crossings make the confidence
// sequence: the one-sided mixture for Increase and Decrease (each bound at
// alpha), the average of both sides for Either.
func (m *ShiftMonitor) logEBounds(s float64) float64 {
	if m.opt.Direction == Either {
		return logAddExp(m.logEUp(s), m.logEUp(-s)) - math.Ln2
	}
	return m.logEUp(s)
}

// logEHarm is the log e-process of the test in the harmful direction.
func (m *ShiftMonitor) logEHarm(s float64) float64 {
	switch m.opt.Direction {
	case Increase:
		return m.logEUp(s)
	case Decrease:
		return m.logEUp(-s)
	}
	return logAddExp(m.logEUp(s), m.logEUp(-s)) - math.Ln2
}

// threshold returns K = ceil(h), where h is the smallest half-integer S in
// [P/2, P] at which logEBounds reaches log(1/alpha) (P pairs), or P+1 when
// none does. Both mixtures are convex in S and symmetric about P/2, so the
// δ with S(δ) in (P-h, h) are the confidence set.
func (m *ShiftMonitor) threshold(p int64) int64 {
	thr := -math.Log(m.opt.Alpha)
	f := func(t int64) bool { return m.logEBounds(float64(t-p)/2) >= thr } // t = 2S
	if !f(2 * p) {
		return p + 1
	}
	lo, hi := p, 2*p // f(lo) false: the mixture is <= 1 at S = P/2
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if f(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return (hi + 1) / 2
}

// selectK returns the k-th smallest (0-based) of v, reordering v so that
// v[:k] <= v[k] <= v[k+1:]: quickselect with a median-of-three pivot,
// sorting the rest if it makes poor progress.
func selectK(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for budget := 2 * (64 - bits.LeadingZeros64(uint64(len(v)))); hi > lo; budget-- {
		if budget == 0 {
			slices.Sort(v[lo : hi+1])
			return v[k]
		}
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// ShiftLook is one look of SequentialShift: the first NX canary and NY
// baseline observations have arrived.
type ShiftLook struct{ NX, NY int }

// SequentialShift runs a ShiftMonitor over the looks, which must not
// shrink, on prefixes of x and y, and returns one result per look.
func SequentialShift(x, y []float64, looks []ShiftLook, opt ShiftOptions) ([]SequentialResult, [2]int, error) {
	m, err := NewShiftMonitor(opt)
	if err != nil {
		return nil, [2]int{}, err
	}
	out := make([]SequentialResult, 0, len(looks))
	for i, l := range looks {
		if l.NX < 0 || l.NX > len(x) || l.NY < 0 || l.NY > len(y) {
			return nil, [2]int{}, gohere.Errorf(gohere.Invalid,
				"looks[%d]: sequential shift: %d and %d observations: want 0..%d and 0..%d", i, l.NX, l.NY, len(x), len(y))
		}
		r, err := m.Look(x[:l.NX], y[:l.NY])
		if err != nil {
			return nil, [2]int{}, gohere.Errorf(gohere.Invalid, "looks[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, m.Block(), nil
}
