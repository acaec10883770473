package stats

import (
	"cmp"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

// The simulations of the sequential tests. A normal `go test` runs
// simRuns() = 2,000 A/A canaries per scenario (600 under the race detector,
// which slows them tenfold) and a quarter as many (at least 200) regressed
// ones; GOHERE_SIM_RUNS=10000 runs the 10,000 (about 20 s on one
// core). The type-I bounds are alpha plus 2.75 Monte Carlo standard errors
// of a share of 0.05 (one-sided, a 0.3 % chance of a false alarm of the
// check itself): 0.0634 for 2,000 runs, 0.0745 for 600 and 0.056 for 10,000.

const (
	simLooks     = 60
	simPerLook   = 10   // latency observations per sample per look
	simRequests  = 2000 // requests per sample per look
	simErrorRate = 0.002
	simAlpha     = 0.05
)

func simRuns(t testing.TB) int {
	if s := os.Getenv("GOHERE_SIM_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			t.Fatalf("GOHERE_SIM_RUNS=%q: want a whole number >= 100", s)
		}
		return n
	}
	if raceEnabled {
		return 600
	}
	return 2000
}

// typeIBound is alpha plus 2.75 standard errors of a share alpha in runs.
func typeIBound(runs int) float64 {
	return simAlpha + 2.75*math.Sqrt(simAlpha*(1-simAlpha)/float64(runs))
}

// latencyRun draws one canary's latencies: lognormal with median 100 ms and
// sigma 0.5, the canary multiplied by factor.
func latencyRun(r *rand.Rand, factor float64) (x, y []float64) {
	n := simLooks * simPerLook
	x, y = make([]float64, n), make([]float64, n)
	for i := range n {
		x[i] = factor * math.Exp(math.Log(0.1)+0.5*r.NormFloat64())
		y[i] = math.Exp(math.Log(0.1) + 0.5*r.NormFloat64())
	}
	return x, y
}

// poisson draws a Poisson count by Knuth's product of uniforms (small means).
func poisson(r *rand.Rand, mean float64) int64 {
	l, p := math.Exp(-mean), 1.0
	var k int64
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// errorRun draws per-look error counts of simRequests requests per sample.
func errorRun(r *rand.Rand, factor float64) (x, y []int64) {
	x, y = make([]int64, simLooks), make([]int64, simLooks)
	for i := range simLooks {
		x[i] = poisson(r, factor*simErrorRate*simRequests)
		y[i] = poisson(r, simErrorRate*simRequests)
	}
	return x, y
}

// mwGreater is the one-sided (canary greater) p-value of R's
// wilcox.test(x, y, alternative = "greater") with its defaults, for data
// without ties, maintained look by look: U is updated with Fenwick trees
// over the ranks of the whole run, the exact distribution is used below 50
// observations per sample (cached by size), the continuity-corrected normal
// one above. TestMWGreaterMatchesMannWhitney checks it against MannWhitney.
type mwGreater struct {
	rx, ry []int // ranks (1-based) of x and y in the whole run
	fx, fy []int // Fenwick trees counting inserted x and y by rank
	nx, ny int
	u2     int64 // twice U of x
	dists  map[[2]int]*wilcoxDist
}

// wilcoxCache holds the exact null distributions the simulations need (the
// tests that use it do not run in parallel).
var wilcoxCache = map[[2]int]*wilcoxDist{}

func newMWGreater(x, y []float64) *mwGreater {
	n := len(x) + len(y)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	at := func(i int) float64 {
		if i < len(x) {
			return x[i]
		}
		return y[i-len(x)]
	}
	slices.SortFunc(idx, func(i, j int) int { return cmp.Compare(at(i), at(j)) })
	m := &mwGreater{rx: make([]int, len(x)), ry: make([]int, len(y)),
		fx: make([]int, n+1), fy: make([]int, n+1), dists: wilcoxCache}
	for r, i := range idx {
		if i < len(x) {
			m.rx[i] = r + 1
		} else {
			m.ry[i-len(x)] = r + 1
		}
	}
	return m
}

func fenwickAdd(f []int, i int) {
	for ; i < len(f); i += i & -i {
		f[i]++
	}
}

func fenwickSum(f []int, i int) int { // inserted with rank <= i
	s := 0
	for ; i > 0; i -= i & -i {
		s += f[i]
	}
	return s
}

// add inserts the next observations: x and y continue those added before.
func (m *mwGreater) add(x, y []float64) {
	for range x {
		r := m.rx[m.nx]
		m.u2 += 2 * int64(fenwickSum(m.fy, r-1))
		fenwickAdd(m.fx, r)
		m.nx++
	}
	for range y {
		r := m.ry[m.ny]
		m.u2 += 2 * int64(m.nx-fenwickSum(m.fx, r))
		fenwickAdd(m.fy, r)
		m.ny++
	}
}

func (m *mwGreater) p() float64 {
	return mwGreaterP(m.u2, m.nx, m.ny, m.dists)
}

func mwGreaterP(u2 int64, nx, ny int, dists map[[2]int]*wilcoxDist) float64 {
	w := float64(u2) / 2
	if nx < 50 && ny < 50 {
		d := dists[[2]int{nx, ny}]
		if d == nil {
			d = newWilcoxDist(nx, ny)
			dists[[2]int{nx, ny}] = d
		}
		return d.p(w-1, false)
	}
	n, m := float64(nx), float64(ny)
	z := (w - n*m/2 - 0.5) / math.Sqrt(n*m*(n+m+1)/12)
	return pnormUpper(z)
}

// uOf is twice the U of x against y, by comparing every pair (no ties).
func uOf(x, y []float64) int64 {
	var u2 int64
	for _, a := range x {
		for _, b := range y {
			if a > b {
				u2 += 2
			}
		}
	}
	return u2
}

func TestMWGreaterMatchesMannWhitney(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	x, y := latencyRun(r, 1.1)
	mw := newMWGreater(x, y)
	opt := DefaultMannWhitney()
	opt.Alternative = Greater
	for look := 1; look <= simLooks; look++ {
		lo, hi := (look-1)*simPerLook, look*simPerLook
		mw.add(x[lo:hi], y[lo:hi])
		if look > 6 && look%9 != 0 {
			continue
		}
		want, err := MannWhitney(x[:hi], y[:hi], opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := mw.p(); !near(got, want.PValue, 1e-9, 1e-300) {
			t.Errorf("look %d (%d per sample, %s): p = %v, want MannWhitney's %v", look, hi, want.Method, got, want.PValue)
		}
		if got, want := mwGreaterP(uOf(x[lo:hi], y[lo:hi]), simPerLook, simPerLook, mw.dists), mustMW(t, x[lo:hi], y[lo:hi], opt); !near(got, want, 1e-9, 1e-300) {
			t.Errorf("look %d alone: p = %v, want MannWhitney's %v", look, got, want)
		}
	}
}

func mustMW(t *testing.T, x, y []float64, opt MannWhitneyOptions) float64 {
	t.Helper()
	res, err := MannWhitney(x, y, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res.PValue
}

// valueSim runs one latency canary: the first look at which the sequential
// test (Increase), the naive repeated Mann-Whitney on all data so far and
// the per-interval Mann-Whitney on each look's data alone reject at alpha
// (0 = never), and whether the fixed-horizon test at the last look rejects.
type simOutcome struct {
	seq, naive, interval int
	fixed                bool
	fixedAt              []bool // the fixed test on all data at each look rejects
}

func valueSim(t testing.TB, r *rand.Rand, factor float64) simOutcome {
	x, y := latencyRun(r, factor)
	mon, err := NewShiftMonitor(ShiftOptions{Alpha: simAlpha, Direction: Increase})
	if err != nil {
		t.Fatal(err)
	}
	mw := newMWGreater(x, y)
	var out simOutcome
	for look := 1; look <= simLooks; look++ {
		lo, hi := (look-1)*simPerLook, look*simPerLook
		res, err := mon.Look(x[:hi], y[:hi])
		if err != nil {
			t.Fatal(err)
		}
		if res.Reject && out.seq == 0 {
			out.seq = look
		}
		mw.add(x[lo:hi], y[lo:hi])
		p := mw.p()
		out.fixedAt = append(out.fixedAt, p <= simAlpha)
		if p <= simAlpha && out.naive == 0 {
			out.naive = look
		}
		if look == simLooks {
			out.fixed = p <= simAlpha
		}
		if out.interval == 0 && mwGreaterP(uOf(x[lo:hi], y[lo:hi]), simPerLook, simPerLook, mw.dists) <= simAlpha {
			out.interval = look
		}
	}
	return out
}

// fisherGreater answers "is ProportionTest(k1, n, k2, n, Greater) at most
// simAlpha?" for the simulations, which ask about the same tables again and
// again: the p-value falls as k1 grows, so it memoizes, per (k2, n), the
// smallest k1 that rejects.
type fisherGreater map[[2]int64]int64

func (f fisherGreater) rejects(t testing.TB, k1, k2, n int64) bool {
	key := [2]int64{k2, n}
	thr, ok := f[key]
	if !ok {
		p := func(k int64) float64 {
			pr, err := ProportionTest(k, n, k2, n, Greater)
			if err != nil {
				t.Fatal(err)
			}
			return pr.PValue
		}
		// Start near the normal approximation and step to the boundary.
		thr = int64(float64(k2) + 1.7*math.Sqrt(2*float64(k2)+1))
		if p(thr) <= simAlpha {
			for thr > 0 && p(thr-1) <= simAlpha {
				thr--
			}
		} else {
			for thr++; p(thr) > simAlpha; thr++ {
			}
		}
		f[key] = thr
	}
	return k1 >= thr
}

func errorSim(t testing.TB, r *rand.Rand, factor float64, fisher fisherGreater) simOutcome {
	xe, ye := errorRun(r, factor)
	mon, err := NewRateMonitor(RateOptions{Alpha: simAlpha, Direction: Increase})
	if err != nil {
		t.Fatal(err)
	}
	var out simOutcome
	var c RateCounts
	for look := 1; look <= simLooks; look++ {
		i := look - 1
		c.XEvents += xe[i]
		c.YEvents += ye[i]
		c.XTotal += simRequests
		c.YTotal += simRequests
		res, err := mon.Look(c)
		if err != nil {
			t.Fatal(err)
		}
		if res.Reject && out.seq == 0 {
			out.seq = look
		}
		if out.naive == 0 || look == simLooks || factor != 1 {
			rej := fisher.rejects(t, c.XEvents, c.YEvents, int64(c.XTotal))
			out.fixedAt = append(out.fixedAt, rej)
			if rej && out.naive == 0 {
				out.naive = look
			}
			if look == simLooks {
				out.fixed = rej
			}
		}
		if out.interval == 0 && fisher.rejects(t, xe[i], ye[i], simRequests) {
			out.interval = look
		}
	}
	return out
}

type simSummary struct {
	runs                       int
	seq, naive, interval       float64 // share of runs ever rejected
	fixed                      float64 // share rejected by the fixed-horizon test at the last look
	seqMedianLook, seqMeanLook float64 // over the runs the sequential test rejected
	fixedAtMedian              float64 // share the fixed test rejects with its horizon at seqMedianLook
}

func simulate(t testing.TB, seed uint64, runs int, one func(testing.TB, *rand.Rand) simOutcome) simSummary {
	s := simSummary{runs: runs}
	var looks []int
	var outs []simOutcome
	for i := range runs {
		o := one(t, rand.New(rand.NewPCG(seed, uint64(i))))
		outs = append(outs, o)
		if o.seq > 0 {
			s.seq++
			looks = append(looks, o.seq)
		}
		if o.naive > 0 {
			s.naive++
		}
		if o.interval > 0 {
			s.interval++
		}
		if o.fixed {
			s.fixed++
		}
	}
	n := float64(runs)
	s.seq, s.naive, s.interval, s.fixed = s.seq/n, s.naive/n, s.interval/n, s.fixed/n
	s.seqMedianLook, s.seqMeanLook = math.NaN(), math.NaN()
	if len(looks) > 0 {
		slices.Sort(looks)
		s.seqMedianLook = float64(looks[(len(looks)-1)/2])
		var sum int
		for _, l := range looks {
			sum += l
		}
		s.seqMeanLook = float64(sum) / float64(len(looks))
		at := int(s.seqMedianLook) - 1
		for _, o := range outs {
			if at < len(o.fixedAt) && o.fixedAt[at] {
				s.fixedAtMedian++
			}
		}
		s.fixedAtMedian /= n
	}
	return s
}

// TestSequentialTypeIUnderMonitoring: A/A canaries looked at 60 times. The
// sequential tests must keep the share ever rejected within alpha (plus
// Monte Carlo error); repeated fixed tests must not (they show why the
// sequential tests exist).
func TestSequentialTypeIUnderMonitoring(t *testing.T) {
	runs := simRuns(t)
	bound := typeIBound(runs)
	fisher := fisherGreater{}
	for _, sc := range []struct {
		name string
		seed uint64
		one  func(testing.TB, *rand.Rand) simOutcome
	}{
		{"lognormal latency", 11, func(t testing.TB, r *rand.Rand) simOutcome { return valueSim(t, r, 1) }},
		{"poisson errors", 12, func(t testing.TB, r *rand.Rand) simOutcome { return errorSim(t, r, 1, fisher) }},
	} {
		t.Run(sc.name, func(t *testing.T) {
			s := simulate(t, sc.seed, runs, sc.one)
			t.Logf("%d A/A runs, %d looks, alpha %.2f: ever rejected: sequential %.4f, "+
				"naive repeated test on all data %.4f, per-interval test %.4f, fixed test at the last look %.4f",
				runs, simLooks, simAlpha, s.seq, s.naive, s.interval, s.fixed)
			if s.seq > bound {
				t.Errorf("sequential type-I error %.4f > %.4f", s.seq, bound)
			}
			if s.naive < 3*simAlpha {
				t.Errorf("naive repeated test rejected %.4f of A/A runs: want > %.2f (the simulation would show nothing)", s.naive, 3*simAlpha)
			}
			if s.fixed > bound {
				t.Errorf("fixed-horizon type-I error %.4f > %.4f", s.fixed, bound)
			}
		})
	}
}

// TestSequentialPower: +20 % latency and twice the error rate. The
// sequential test must detect nearly every regression, and earlier than
// the fixed-horizon test, which can only decide at the last look.
func TestSequentialPower(t *testing.T) {
	runs := max(simRuns(t)/4, 200)
	fisher := fisherGreater{}
	for _, sc := range []struct {
		name string
		seed uint64
		one  func(testing.TB, *rand.Rand) simOutcome
	}{
		{"latency +20%", 21, func(t testing.TB, r *rand.Rand) simOutcome { return valueSim(t, r, 1.2) }},
		{"error rate x2", 22, func(t testing.TB, r *rand.Rand) simOutcome { return errorSim(t, r, 2, fisher) }},
	} {
		t.Run(sc.name, func(t *testing.T) {
			s := simulate(t, sc.seed, runs, sc.one)
			t.Logf("%d runs, %d looks: sequential detects %.4f, median look %.0f (mean %.1f); "+
				"fixed-horizon test at look %d detects %.4f (with its horizon at look %.0f it would detect %.4f)",
				runs, simLooks, s.seq, s.seqMedianLook, s.seqMeanLook, simLooks, s.fixed, s.seqMedianLook, s.fixedAtMedian)
			if s.seq < 0.95 {
				t.Errorf("sequential power %.4f < 0.95", s.seq)
			}
			if !(s.seqMedianLook <= simLooks/2) {
				t.Errorf("median look of detection %v: want at most %d, half the fixed horizon", s.seqMedianLook, simLooks/2)
			}
		})
	}
}

// TestSequentialCoverage: the confidence sequences cover the true effect at
// every look (the running intersection covers it at the last look exactly
// when it did at all of them) in all but alpha of the runs: an additive
// shift of normal data, a +20 % ratio of lognormal data on the log scale,
// and twice the error rate.
func TestSequentialCoverage(t *testing.T) {
	runs := max(simRuns(t)/4, 200)
	bound := typeIBound(runs)
	for _, sc := range []struct {
		name  string
		truth float64
		one   func(r *rand.Rand) (SequentialResult, error)
	}{
		{"shift 0.25 of normal data", 0.25, func(r *rand.Rand) (SequentialResult, error) {
			m, _ := NewShiftMonitor(ShiftOptions{})
			var x, y []float64
			var res SequentialResult
			var err error
			for range simLooks {
				for range simPerLook {
					x, y = append(x, r.NormFloat64()+0.25), append(y, r.NormFloat64())
				}
				if res, err = m.Look(x, y); err != nil {
					return res, err
				}
			}
			return res, nil
		}},
		{"ratio 1.2 of lognormal latency", 1.2, func(r *rand.Rand) (SequentialResult, error) {
			x, y := latencyRun(r, 1.2)
			m, _ := NewShiftMonitor(ShiftOptions{Log: true})
			var res SequentialResult
			var err error
			for look := 1; look <= simLooks; look++ {
				if res, err = m.Look(x[:look*simPerLook], y[:look*simPerLook]); err != nil {
					return res, err
				}
			}
			return res, nil
		}},
		{"error rate ratio 2", 2, func(r *rand.Rand) (SequentialResult, error) {
			xe, ye := errorRun(r, 2)
			m, _ := NewRateMonitor(RateOptions{})
			var c RateCounts
			var res SequentialResult
			var err error
			for i := range simLooks {
				c.XEvents, c.YEvents = c.XEvents+xe[i], c.YEvents+ye[i]
				c.XTotal, c.YTotal = c.XTotal+simRequests, c.YTotal+simRequests
				if res, err = m.Look(c); err != nil {
					return res, err
				}
			}
			return res, nil
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			var missed int
			var width float64
			for i := range runs {
				res, err := sc.one(rand.New(rand.NewPCG(31, uint64(i))))
				if err != nil {
					t.Fatal(err)
				}
				if !(res.CSLow <= sc.truth && sc.truth <= res.CSHigh) {
					missed++
				}
				width += res.CSHigh - res.CSLow
			}
			share := float64(missed) / float64(runs)
			t.Logf("%d runs: the sequence missed %v at some look in %.4f of them; mean width at look %d: %.4g",
				runs, sc.truth, share, simLooks, width/float64(runs))
			if share > bound {
				t.Errorf("non-coverage %.4f > %.4f", share, bound)
			}
		})
	}
}
