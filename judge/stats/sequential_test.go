package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gohere/gohere"
)

// TestShiftKnownValues checks e-values against formulas worked out by hand.
//
// Block [1, 1] (one canary against one baseline observation): U is 0 or 1
// with probability 1/2 under the null, so sd(U) = 1/2, the grid parameters
// are theta_k = 2·2^(k/2) (k = -18..3) and E0[exp(theta(U - 1/2))] =
// cosh(theta/2). After n pairs with S of them x > y the upward mixture is
// mean_k exp(theta_k (S - n/2) - n log cosh(theta_k/2)), the downward one the
// same at -theta_k, and Either averages them. For x = 10, 20 against y = 1, 2
// (S = 2, n = 2) that is 1.1866314134717135 (computed with Python's math).
func TestShiftKnownValues(t *testing.T) {
	theta := func(k int) float64 { return 2 * math.Pow(2, float64(k)/2) }
	mix := func(s, n float64, sign float64) float64 {
		var sum float64
		for k := -18; k <= 3; k++ {
			th := sign * theta(k)
			sum += math.Exp(th*(s-n/2) - n*math.Log(math.Cosh(th/2)))
		}
		return sum / 22
	}
	x := []float64{10, 20, 30, 40, 50, 60, 70, 80, -1, -2}
	y := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, dir := range []Direction{Increase, Decrease, Either} {
		res, _, err := SequentialShift(x, y, []ShiftLook{{2, 2}, {8, 8}, {10, 10}}, ShiftOptions{Direction: dir, Block: [2]int{1, 1}})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range []struct{ s, n float64 }{{2, 2}, {8, 8}, {8, 10}} {
			up, down := mix(c.s, c.n, 1), mix(c.s, c.n, -1)
			want := map[Direction]float64{Increase: up, Decrease: down, Either: (up + down) / 2}[dir]
			if !near(res[i].EValue, want, 1e-12, 0) {
				t.Errorf("%s look %d: e = %.17g, want %.17g", dir, i, res[i].EValue, want)
			}
		}
	}
	res, _, err := SequentialShift(x[:2], y[:2], nil, ShiftOptions{Block: [2]int{1, 1}})
	if err != nil || len(res) != 0 {
		t.Fatalf("no looks: %v, %v", res, err)
	}
	res, _, err = SequentialShift(x[:2], y[:2], []ShiftLook{{2, 2}}, ShiftOptions{Block: [2]int{1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res[0].EValue, 1.1866314134717135; !near(got, want, 1e-14, 0) {
		t.Errorf("x = 10, 20 against y = 1, 2: e = %.17g, want %.17g", got, want)
	}
	if got, want := res[0].PValue, 1/1.1866314134717135; !near(got, want, 1e-14, 0) {
		t.Errorf("p = %v, want 1/e = %v", got, want)
	}
}

// TestRateKnownValues: with equal exposures an event is the canary's with
// probability q(eta) = e^eta / (1 + e^eta) at log rate ratio eta, 1/2 under
// the null, so k canary and 0 baseline events give the upward mixture
// mean_j (2 q(eta_j))^k over eta_j = 2^(j/2), j = -14..5: 7.103758223779652
// for k = 5 and 532.0542742200738 for k = 12; 0 canary against 12 baseline
// events give mean_j (2 (1 - q(eta_j)))^12 = 0.38345032659847317 (Python).
func TestRateKnownValues(t *testing.T) {
	res, err := SequentialRate([]RateCounts{
		{XEvents: 5, XTotal: 10000, YEvents: 0, YTotal: 10000},
		{XEvents: 12, XTotal: 30000, YEvents: 0, YTotal: 30000},
	}, RateOptions{Direction: Increase})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{7.103758223779652, 532.0542742200738} {
		if !near(res[i].EValue, want, 1e-12, 0) {
			t.Errorf("look %d: e = %.17g, want %.17g", i, res[i].EValue, want)
		}
	}
	if !res[1].Reject || res[0].Reject || !near(res[1].PValue, 1/532.0542742200738, 1e-12, 0) {
		t.Errorf("reject %v, %v, p %v: want only the second look, p = 1/e", res[0].Reject, res[1].Reject, res[1].PValue)
	}
	// The rate ratio's lower bound: the ratio at which the upward mixture
	// against it is exactly 1/alpha.
	lo := res[1].CSLow
	m, _ := NewRateMonitor(RateOptions{Direction: Increase, Ratio: lo})
	r, _ := m.Look(RateCounts{XEvents: 12, XTotal: 30000, YTotal: 30000})
	if !near(r.EValue, 20, 1e-6, 0) || !math.IsInf(res[1].CSHigh, 1) {
		t.Errorf("cs [%v, %v]: e at the lower bound = %v, want 20 = 1/alpha and an unbounded top", lo, res[1].CSHigh, r.EValue)
	}
	res, err = SequentialRate([]RateCounts{{XEvents: 0, XTotal: 30000, YEvents: 12, YTotal: 30000}}, RateOptions{Direction: Increase})
	if err != nil {
		t.Fatal(err)
	}
	if got := res[0]; !near(got.EValue, 0.38345032659847317, 1e-12, 0) || got.PValue != 1 || got.Reject || got.CSLow != 0 {
		t.Errorf("0 against 12 errors: %+v, want e 0.3834..., p 1, no reject, ratio from 0", got)
	}
}

// TestLogMGFWilcox: the closed form (Gaussian binomial coefficient) against
// the sum over the exact null distribution of U.
func TestLogMGFWilcox(t *testing.T) {
	for _, ab := range [][2]int{{1, 1}, {1, 7}, {2, 3}, {3, 2}, {8, 8}, {4, 30}, {20, 20}} {
		d := newWilcoxDist(ab[0], ab[1])
		for _, th := range []float64{1e-9, 1e-4, 0.01, 0.19, 0.21, 0.3, 1, 2.5, -0.7, 45} {
			terms := make([]float64, len(d.counts))
			for u, c := range d.counts {
				terms[u] = math.Log(c/d.total) + th*(float64(u)-float64(ab[0]*ab[1])/2)
			}
			// The sum itself loses about 1e-15 absolute near theta 0.
			if got, want := logMGFWilcox(ab[0], ab[1], th), logSumExp(terms); !near(got, want, 1e-9, 2e-15) {
				t.Errorf("%v theta %v: %.17g, want %.17g", ab, th, got, want)
			}
		}
		// Near 0 it is theta² var(U) / 2, var(U) = ab(a+b+1)/12, to O(theta⁴).
		v := float64(ab[0]*ab[1]*(ab[0]+ab[1]+1)) / 12
		if got, want := logMGFWilcox(ab[0], ab[1], 1e-6), 1e-12*v/2; !near(got, want, 1e-8, 0) {
			t.Errorf("%v theta 1e-6: %.17g, want theta² var / 2 = %.17g", ab, got, want)
		}
	}
}

// refShift judges one look from the blocks alone, by brute force: the
// e-process from the exact null distribution of U, the confidence set by
// testing every difference and every midpoint between two.
type refShift struct {
	a, b    int
	theta   []float64
	logZ    []float64
	diffs   []float64
	blocks  int
	dir     Direction
	alpha   float64
	mu, lmu float64
}

func newRefShift(a, b int, dir Direction, alpha, mu float64) *refShift {
	r := &refShift{a: a, b: b, dir: dir, alpha: alpha, mu: mu}
	d := newWilcoxDist(a, b)
	sd := math.Sqrt(float64(a*b*(a+b+1)) / 12)
	for k := -18; k <= 3; k++ {
		th := math.Pow(2, float64(k)/2) / sd
		var z float64
		for u, c := range d.counts {
			z += c / d.total * math.Exp(th*(float64(u)-float64(a*b)/2))
		}
		r.theta, r.logZ = append(r.theta, th), append(r.logZ, math.Log(z))
	}
	return r
}

func (r *refShift) add(x, y []float64) {
	for _, xv := range x {
		for _, yv := range y {
			r.diffs = append(r.diffs, xv-yv)
		}
	}
	r.blocks++
}

func (r *refShift) s(delta float64) float64 {
	var s float64
	for _, d := range r.diffs {
		switch {
		case d > delta:
			s++
		case d == delta:
			s += 0.5
		}
	}
	return s - float64(len(r.diffs))/2
}

func (r *refShift) e(s float64, sign float64) float64 {
	var sum float64
	for k, th := range r.theta {
		sum += math.Exp(sign*th*s - float64(r.blocks)*r.logZ[k])
	}
	return sum / float64(len(r.theta))
}

func (r *refShift) eHarm(s float64) float64 {
	switch r.dir {
	case Increase:
		return r.e(s, 1)
	case Decrease:
		return r.e(s, -1)
	}
	return (r.e(s, 1) + r.e(s, -1)) / 2
}

// cs is the closure of {delta : neither bound's e-process reaches 1/alpha}.
func (r *refShift) cs() (lo, hi float64) {
	d := slices.Clone(r.diffs)
	slices.Sort(d)
	d = slices.Compact(d)
	rejected := func(delta float64) bool {
		s := r.s(delta)
		if r.dir == Either {
			return (r.e(s, 1)+r.e(s, -1))/2 >= 1/r.alpha
		}
		return r.e(s, 1) >= 1/r.alpha || r.e(s, -1) >= 1/r.alpha
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	if !rejected(d[0] - 1) {
		lo = math.Inf(-1)
	}
	if !rejected(d[len(d)-1] + 1) {
		hi = math.Inf(1)
	}
	for i, v := range d {
		if !rejected(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
		if i+1 < len(d) && !rejected(v+(d[i+1]-v)/2) {
			lo, hi = min(lo, v), max(hi, d[i+1])
		}
	}
	return lo, hi
}

// TestShiftMatchesReference: ShiftMonitor against refShift look by look,
// on continuous and on heavily tied data, for several designs, directions
// and null shifts.
func TestShiftMatchesReference(t *testing.T) {
	for _, tc := range []struct {
		block [2]int
		dir   Direction
		mu    float64
		ties  bool
		shift float64
		alpha float64
	}{
		{[2]int{1, 1}, Either, 0, false, 0.5, 0.05},
		{[2]int{1, 1}, Increase, 0.2, false, 0.8, 0.1},
		{[2]int{2, 3}, Decrease, 0, false, -0.6, 0.05},
		{[2]int{8, 8}, Either, 0, true, 1, 0.05},
		{[2]int{8, 8}, Increase, 0, false, 0.3, 0.01},
		{[2]int{1, 5}, Either, -0.1, true, 0, 0.2},
		{[2]int{4, 2}, Increase, 1, true, 2, 0.05},
	} {
		name := fmt.Sprintf("%v-%s-mu%v-ties%v", tc.block, tc.dir, tc.mu, tc.ties)
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.block[0]), uint64(tc.block[1])))
			draw := func(shift float64) float64 {
				if tc.ties {
					return math.Round(r.NormFloat64()*2) + math.Round(shift)
				}
				return r.NormFloat64() + shift
			}
			a, b := tc.block[0], tc.block[1]
			const looks = 12
			var x, y []float64
			m, err := NewShiftMonitor(ShiftOptions{Alpha: tc.alpha, Direction: tc.dir, Mu: tc.mu, Block: tc.block})
			if err != nil {
				t.Fatal(err)
			}
			ref := newRefShift(a, b, tc.dir, tc.alpha, tc.mu)
			runLo, runHi, maxE := math.Inf(-1), math.Inf(1), 0.0
			for look := range looks {
				for range 3 { // three blocks per look
					xs, ys := make([]float64, a), make([]float64, b)
					for i := range xs {
						xs[i] = draw(tc.shift)
					}
					for i := range ys {
						ys[i] = draw(0)
					}
					x, y = append(x, xs...), append(y, ys...)
					ref.add(xs, ys)
				}
				got, err := m.Look(x, y)
				if err != nil {
					t.Fatal(err)
				}
				e := ref.eHarm(ref.s(tc.mu))
				lo, hi := ref.cs()
				runLo, runHi, maxE = max(runLo, lo), min(runHi, hi), max(maxE, e)
				want := SequentialResult{PValue: min(1, 1/maxE), EValue: e, CSLow: runLo, CSHigh: runHi, Reject: maxE >= 1/tc.alpha}
				if !near(got.EValue, want.EValue, 1e-9, 1e-300) || !near(got.PValue, want.PValue, 1e-9, 1e-300) ||
					got.CSLow != want.CSLow || got.CSHigh != want.CSHigh || got.Reject != want.Reject {
					t.Fatalf("look %d:\n got %+v\nwant %+v", look, got, want)
				}
			}
		})
	}
}

// TestSelectK: selection against sorting, with and without ties.
func TestSelectK(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{1, 2, 3, 10, 100, 1000, 5000} {
		for _, levels := range []int{2, 7, 0} {
			v := make([]float64, n)
			for i := range v {
				if levels > 0 {
					v[i] = float64(r.IntN(levels))
				} else {
					v[i] = r.NormFloat64()
				}
			}
			sorted := slices.Sorted(slices.Values(v))
			for _, k := range []int{0, n / 3, n / 2, n - 1} {
				w := slices.Clone(v)
				if got := selectK(w, k); got != sorted[k] {
					t.Errorf("n %d levels %d: selectK(%d) = %v, want %v", n, levels, k, got, sorted[k])
				}
				for i := range w {
					if i < k && w[i] > w[k] || i > k && w[i] < w[k] {
						t.Fatalf("n %d levels %d k %d: not partitioned at %d", n, levels, k, i)
					}
				}
			}
		}
	}
}

// TestShiftSelectPath: one look with more than sortedMax differences is
// answered by selection; it must give what sorting gives.
func TestShiftSelectPath(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	n := 9000 // 1,125 blocks of 8 + 8: 72,000 differences
	x, y := make([]float64, n), make([]float64, n)
	for i := range n {
		x[i], y[i] = r.NormFloat64()+0.02, r.NormFloat64()
	}
	m, err := NewShiftMonitor(ShiftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Look(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if m.sorted || len(m.diffs) <= sortedMax {
		t.Fatalf("sorted %v with %d differences: the test no longer reaches the selection path", m.sorted, len(m.diffs))
	}
	d := slices.Clone(m.diffs)
	slices.Sort(d)
	p := int64(len(d))
	k := m.threshold(p)
	if got.CSLow != d[p-k] || got.CSHigh != d[k-1] {
		t.Errorf("cs [%v, %v], want the order statistics [%v, %v]", got.CSLow, got.CSHigh, d[p-k], d[k-1])
	}
	// A second look that adds little stays on the selection path.
	x, y = append(x, 1, 2, 3, 4, 5, 6, 7, 8), append(y, 1, 2, 3, 4, 5, 6, 7, 8)
	got, err = m.Look(x, y)
	if err != nil {
		t.Fatal(err)
	}
	d = slices.Sorted(slices.Values(m.diffs))
	p = int64(len(d))
	k = m.threshold(p)
	if got.CSLow != max(d[p-k], m.run.lo) || got.CSHigh != min(d[k-1], m.run.hi) {
		t.Errorf("second look: cs [%v, %v], want within [%v, %v]", got.CSLow, got.CSHigh, d[p-k], d[k-1])
	}
}

// TestShiftMergePath: many small looks keep the differences sorted by
// merging, and the result equals one monitor that sees the same looks with
// the differences re-sorted from scratch (the reference above covers the
// values; this covers the merge at sizes beyond it).
func TestShiftMergePath(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	var x, y []float64
	m, _ := NewShiftMonitor(ShiftOptions{Direction: Increase})
	for look := range 200 {
		for range 40 {
			x, y = append(x, math.Round(10*r.NormFloat64())), append(y, math.Round(10*r.NormFloat64()))
		}
		if _, err := m.Look(x, y); err != nil {
			t.Fatal(err)
		}
		if look > 10 && !m.sorted {
			t.Fatalf("look %d: not sorted", look)
		}
	}
	if !slices.IsSorted(m.diffs) || len(m.diffs) != 200*40*8 {
		t.Errorf("%d differences, sorted %v: want %d, sorted", len(m.diffs), slices.IsSorted(m.diffs), 200*40*8)
	}
}

func TestChooseBlock(t *testing.T) {
	for _, tc := range []struct{ nx, ny, a, b int }{
		{10, 10, 8, 8}, {1, 1, 8, 8}, {1, 9, 2, 18}, {9, 1, 18, 2}, {5, 1000, 1, 200},
		{1, 100000, 1, 4096}, {3, 7, 5, 12}, {100, 300, 4, 12},
	} {
		if a, b := chooseBlock(tc.nx, tc.ny); a != tc.a || b != tc.b {
			t.Errorf("chooseBlock(%d, %d) = %d, %d, want %d, %d", tc.nx, tc.ny, a, b, tc.a, tc.b)
		}
	}
}

// TestShiftDropsStaleLeftovers: a block never spans more than two looks;
// observations of a sample that waited longer for the other are dropped.
func TestShiftDropsStaleLeftovers(t *testing.T) {
	m, _ := NewShiftMonitor(ShiftOptions{Block: [2]int{2, 2}})
	x := []float64{1, 2, 3, 4, 5}
	y := []float64{1}
	y5 := []float64{1, 2, 3, 4, 5}
	// Look k drops what arrived before look k-1 and is still not in a block.
	steps := []struct {
		x, y           []float64
		blocks, px, py int
	}{
		{x[:5], y[:1], 0, 0, 0},                       // y has too few: no block
		{x[:5], []float64{1, 2}, 1, 2, 2},             // x[0:2] (look 0) with y[0:2] (looks 0, 1)
		{x[:5], []float64{1, 2, 3}, 1, 5, 2},          // x[2:5] came at look 0: dropped
		{x[:5], []float64{1, 2, 3, 4, 5}, 1, 5, 2},    // y waits for x
		{[]float64{1, 2, 3, 4, 5, 6, 7}, y5, 2, 7, 5}, // y[2] (look 2) dropped; x[5:7] with y[3:5]
	}
	for i, s := range steps {
		if _, err := m.Look(s.x, s.y); err != nil {
			t.Fatal(err)
		}
		if m.blocks != s.blocks || m.px != s.px || m.py != s.py {
			t.Errorf("look %d: %d blocks, next x %d, next y %d; want %d, %d, %d", i, m.blocks, m.px, m.py, s.blocks, s.px, s.py)
		}
	}
}

// checkSequence asserts what every sequence of results must satisfy.
// tol widens "on an end point" for bounds found by root finding.
func checkSequence(t *testing.T, res []SequentialResult, dir Direction, null, alpha, tol float64) {
	t.Helper()
	for i, r := range res {
		if r.Reject != (r.PValue <= alpha) {
			t.Errorf("look %d: reject %v with p %v", i, r.Reject, r.PValue)
		}
		if !(r.PValue >= 0 && r.PValue <= 1) || !(r.EValue >= 0) {
			t.Errorf("look %d: p %v, e %v", i, r.PValue, r.EValue)
		}
		if i > 0 {
			p := res[i-1]
			if r.PValue > p.PValue || r.CSLow < p.CSLow || r.CSHigh > p.CSHigh || p.Reject && !r.Reject {
				t.Errorf("look %d: %+v after %+v: p rose, the sequence widened or a rejection was undone", i, r, p)
			}
		}
		// Rejection and the sequence agree, up to its end points.
		tl := tol * max(1, math.Abs(null))
		up, down := r.CSLow > null+tl, r.CSHigh < null-tl
		upOrOn, downOrOn := r.CSLow >= null-tl, r.CSHigh <= null+tl
		switch dir {
		case Increase:
			if up && !r.Reject || r.Reject && !upOrOn {
				t.Errorf("look %d: %+v against null %v", i, r, null)
			}
		case Decrease:
			if down && !r.Reject || r.Reject && !downOrOn {
				t.Errorf("look %d: %+v against null %v", i, r, null)
			}
		case Either:
			if (up || down) && !r.Reject || r.Reject && !(upOrOn || downOrOn) {
				t.Errorf("look %d: %+v against null %v", i, r, null)
			}
		}
	}
}

func TestShiftProperties(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 40))
		dir := []Direction{Increase, Decrease, Either}[seed%3]
		mu := []float64{0, 0.3, -0.2, 1}[seed%4]
		shift := r.NormFloat64()
		ties := seed%5 == 0
		nx, ny := 5+r.IntN(40), 5+r.IntN(40)
		var x, y []float64
		var looks []ShiftLook
		for range 25 {
			for range nx {
				v := r.NormFloat64() + shift
				if ties {
					v = math.Round(v)
				}
				x = append(x, v)
			}
			for range ny {
				v := r.NormFloat64()
				if ties {
					v = math.Round(v)
				}
				y = append(y, v)
			}
			looks = append(looks, ShiftLook{len(x), len(y)})
		}
		t.Run(fmt.Sprintf("seed%d-%s", seed, dir), func(t *testing.T) {
			res, _, err := SequentialShift(x, y, looks, ShiftOptions{Direction: dir, Mu: mu})
			if err != nil {
				t.Fatal(err)
			}
			checkSequence(t, res, dir, mu, 0.05, 0)
			lres, _, err := SequentialShift(expAll(x), expAll(y), looks, ShiftOptions{Direction: dir, Mu: math.Exp(mu), Log: true})
			if err != nil {
				t.Fatal(err)
			}
			checkSequence(t, lres, dir, math.Exp(mu), 0.05, 1e-12)
			for i := range res {
				// The log of exp'd data is the data, to rounding (which can
				// break ties: compare continuous data only).
				if ties {
					break
				}
				lo, hi := math.Log(lres[i].CSLow), math.Log(lres[i].CSHigh)
				if res[i].Reject != lres[i].Reject || !near(lo, res[i].CSLow, 1e-9, 1e-12) || !near(hi, res[i].CSHigh, 1e-9, 1e-12) {
					t.Errorf("look %d: log scale %+v, linear %+v", i, lres[i], res[i])
				}
			}
		})
	}
}

func expAll(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Exp(x)
	}
	return out
}

func TestRateProperties(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 41))
		dir := []Direction{Increase, Decrease, Either}[seed%3]
		ratio := []float64{1, 1.5, 0.8, 3}[seed%4]
		trueRatio := math.Exp(r.NormFloat64())
		var looks []RateCounts
		var c RateCounts
		for range 30 {
			nx, ny := float64(100+r.IntN(5000)), float64(100+r.IntN(5000))
			if seed%7 == 0 {
				nx = ny // one exposure ratio: the closed-form maximum
			}
			c.XTotal += nx
			c.YTotal += ny
			c.XEvents += poisson(r, 0.002*nx*trueRatio)
			c.YEvents += poisson(r, 0.002*ny)
			looks = append(looks, c)
		}
		t.Run(fmt.Sprintf("seed%d-%s", seed, dir), func(t *testing.T) {
			res, err := SequentialRate(looks, RateOptions{Direction: dir, Ratio: ratio})
			if err != nil {
				t.Fatal(err)
			}
			checkSequence(t, res, dir, ratio, 0.05, 1e-8)
		})
	}
}

// TestRateGroupsMatchDirect: grouping looks by exposure ratio gives the
// likelihood summed over the looks one by one.
func TestRateGroupsMatchDirect(t *testing.T) {
	incs := []struct{ xe, xt, ye, yt float64 }{{3, 1000, 1, 2000}, {0, 500, 2, 1000}, {4, 1000, 5, 1000}, {1, 300, 0, 0}, {2, 700, 3, 1400}}
	m, _ := NewRateMonitor(RateOptions{})
	var c RateCounts
	for _, in := range incs {
		c.XEvents += int64(in.xe)
		c.XTotal += in.xt
		c.YEvents += int64(in.ye)
		c.YTotal += in.yt
		if _, err := m.Look(c); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.groups) != 2 {
		t.Errorf("%d groups, want 2 (ratios 1/2 and 1; the increment without baseline exposure says nothing)", len(m.groups))
	}
	for _, eta := range []float64{-2, 0, 0.3, 1.7} {
		var want float64
		for _, in := range incs {
			if in.xt == 0 || in.yt == 0 {
				continue
			}
			q := in.xt * math.Exp(eta) / (in.xt*math.Exp(eta) + in.yt)
			want += in.xe*math.Log(q) + in.ye*math.Log(1-q)
		}
		if got := m.logLik(eta); !near(got, want, 1e-12, 1e-12) {
			t.Errorf("log likelihood at %v = %v, want %v", eta, got, want)
		}
	}
}

func TestSequentialInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"alpha", func() error { _, err := NewShiftMonitor(ShiftOptions{Alpha: 1}); return err }, "alpha 1"},
		{"direction", func() error { _, err := NewShiftMonitor(ShiftOptions{Direction: "up"}); return err }, `direction "up"`},
		{"mu", func() error { _, err := NewShiftMonitor(ShiftOptions{Mu: math.NaN()}); return err }, "mu NaN"},
		{"log mu", func() error { _, err := NewShiftMonitor(ShiftOptions{Mu: -1, Log: true}); return err }, "ratio > 0"},
		{"block", func() error { _, err := NewShiftMonitor(ShiftOptions{Block: [2]int{0, 3}}); return err }, "block [0, 3]"},
		{"block too big", func() error { _, err := NewShiftMonitor(ShiftOptions{Block: [2]int{65, 64}}); return err }, "a·b <= 4096"},
		{"NaN value", func() error {
			m, _ := NewShiftMonitor(ShiftOptions{})
			_, err := m.Look([]float64{1, math.NaN()}, []float64{1})
			return err
		}, "x[1] is NaN"},
		{"log of zero", func() error {
			m, _ := NewShiftMonitor(ShiftOptions{Log: true})
			_, err := m.Look([]float64{1}, []float64{0})
			return err
		}, "y[0] is 0: log needs values > 0"},
		{"shrinking", func() error {
			m, _ := NewShiftMonitor(ShiftOptions{})
			if _, err := m.Look([]float64{1, 2}, []float64{1}); err != nil {
				return err
			}
			_, err := m.Look([]float64{1}, []float64{1})
			return err
		}, "fewer than the 2 and 1 of the previous look"},
		{"overflow", func() error {
			m, _ := NewShiftMonitor(ShiftOptions{Block: [2]int{1, 1}})
			if _, err := m.Look([]float64{1}, []float64{2}); err != nil {
				return err
			}
			before := *m
			_, err := m.Look([]float64{1, math.MaxFloat64}, []float64{2, -math.MaxFloat64})
			if m.nx != before.nx || m.blocks != before.blocks || m.s2 != before.s2 || len(m.diffs) != len(before.diffs) {
				return fmt.Errorf("the failed look changed the monitor: %v", err)
			}
			return err
		}, "overflow"},
		{"look beyond data", func() error {
			_, _, err := SequentialShift([]float64{1}, []float64{1}, []ShiftLook{{2, 1}}, ShiftOptions{})
			return err
		}, "looks[0]"},
		{"ratio", func() error { _, err := NewRateMonitor(RateOptions{Ratio: -2}); return err }, "ratio -2"},
		{"rate direction", func() error { _, err := NewRateMonitor(RateOptions{Direction: "both"}); return err }, `direction "both"`},
		{"negative events", func() error {
			_, err := SequentialRate([]RateCounts{{XEvents: -1, XTotal: 1, YTotal: 1}}, RateOptions{})
			return err
		}, "looks[0]: sequential rate: events -1"},
		{"infinite total", func() error {
			_, err := SequentialRate([]RateCounts{{XTotal: math.Inf(1), YTotal: 1}}, RateOptions{})
			return err
		}, "totals +Inf"},
		{"counter reset", func() error {
			_, err := SequentialRate([]RateCounts{{XEvents: 5, XTotal: 100, YTotal: 100}, {XEvents: 2, XTotal: 200, YTotal: 200}}, RateOptions{})
			return err
		}, "looks[1]: sequential rate: canary counts 2 of 200 are below"},
		{"events without exposure", func() error {
			_, err := SequentialRate([]RateCounts{{XTotal: 100, YEvents: 3}}, RateOptions{})
			return err
		}, "3 baseline events without baseline exposure"},
		{"bonferroni", func() error { _, err := BonferroniAlpha(0.05, 2, []float64{1, 0}); return err }, "weight 1 is 0"},
		{"bonferroni metrics", func() error { _, err := BonferroniAlpha(0.05, 0, nil); return err }, "0 metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) || gohere.KindOf(err) != gohere.Invalid {
				t.Errorf("error %v (kind %v), want Invalid containing %q", err, gohere.KindOf(err), tc.want)
			}
		})
	}
}

// TestShiftNoDataYet: before both samples have observations there is no
// evidence: p 1, an unbounded sequence, no rejection.
func TestShiftNoDataYet(t *testing.T) {
	m, _ := NewShiftMonitor(ShiftOptions{})
	for _, l := range [][2][]float64{{nil, nil}, {{1, 2, 3}, nil}, {{1, 2, 3}, {1}}} {
		got, err := m.Look(l[0], l[1])
		if err != nil {
			t.Fatal(err)
		}
		if got.PValue != 1 || got.EValue != 1 || !math.IsInf(got.CSLow, -1) || !math.IsInf(got.CSHigh, 1) || got.Reject {
			t.Errorf("%d and %d observations: %+v", len(l[0]), len(l[1]), got)
		}
	}
	if m.Block() != [2]int{12, 4} {
		t.Errorf("block %v, want [12 4] from the first look with both samples (3:1)", m.Block())
	}
}

func TestBonferroniAndCombine(t *testing.T) {
	got, err := BonferroniAlpha(0.05, 4, nil)
	if err != nil || !slices.Equal(got, []float64{0.0125, 0.0125, 0.0125, 0.0125}) {
		t.Errorf("equal split: %v, %v", got, err)
	}
	got, err = BonferroniAlpha(0.06, 3, []float64{1, 2, 3})
	if err != nil || !near(got[0], 0.01, 1e-15, 0) || !near(got[1], 0.02, 1e-15, 0) || !near(got[2], 0.03, 1e-15, 0) {
		t.Errorf("weighted split: %v, %v", got, err)
	}
	if got := CombineEValues([]float64{40, 0, 2}, nil); got != 14 {
		t.Errorf("mean of 40, 0, 2 = %v, want 14", got)
	}
	if got := CombineEValues([]float64{40, 0}, []float64{1, 3}); got != 10 {
		t.Errorf("weighted mean = %v, want 10", got)
	}
	for _, bad := range [][]float64{nil, {-1}, {math.NaN()}} {
		if got := CombineEValues(bad, nil); !math.IsNaN(got) {
			t.Errorf("CombineEValues(%v) = %v, want NaN", bad, got)
		}
	}
}
