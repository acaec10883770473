package stats

import (
	"math"
	"slices"

	"github.com/gohere/gohere"
)

// exact is R's exact branch: no ties, the exact null distribution of W.
func (s *samples) exact(u2 int64, opt MannWhitneyOptions) (MannWhitneyResult, error) {
	m, n := len(s.x), len(s.y)
	if m*n > maxExactCells {
		return MannWhitneyResult{}, gohere.Errorf(gohere.Invalid,
			"mann-whitney: exact distribution for %d x %d observations is too expensive: use exact=false", m, n)
	}
	dist := newWilcoxDist(m, n)
	w := float64(u2) / 2
	res := MannWhitneyResult{W: w, Method: "exact", ConfLevel: opt.ConfLevel}
	switch opt.Alternative {
	case TwoSided:
		var p float64
		if w > s.nx*s.ny/2 {
			p = dist.p(w-1, false)
		} else {
			p = dist.p(w, true)
		}
		res.PValue = min(2*p, 1)
	case Greater:
		res.PValue = dist.p(w-1, false)
	case Less:
		res.PValue = dist.p(w, true)
	}

	diffs := make([]float64, 0, m*n)
	for _, a := range s.x {
		for _, b := range s.y {
			diffs = append(diffs, a-b)
		}
	}
	slices.Sort(diffs)
	alpha := 1 - opt.ConfLevel
	mn := m * n
	var achieved float64
	switch opt.Alternative {
	case TwoSided:
		qu := max(dist.q(alpha/2), 1)
		ql := mn - qu
		achieved = 2 * dist.p(float64(qu-1), true)
		res.CILow, res.CIHigh = diffs[qu-1], diffs[ql]
	case Greater:
		qu := max(dist.q(alpha), 1)
		achieved = dist.p(float64(qu-1), true)
		res.CILow, res.CIHigh = diffs[qu-1], math.Inf(1)
	case Less:
		qu := max(dist.q(alpha), 1)
		achieved = dist.p(float64(qu-1), true)
		res.CILow, res.CIHigh = math.Inf(-1), diffs[mn-qu]
	}
	if achieved-alpha > alpha/2 {
		res.ConfLevel = 1 - achieved
	}
	res.Estimate = median(diffs)
	return res, nil
}

// median of an ascending slice, as R's median().
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	a, b := sorted[n/2-1], sorted[n/2]
	return a + (b-a)/2
}

// wilcoxDist is the exact null distribution of W for sample sizes m and n:
// counts[k] is the number of orderings with W = k.
type wilcoxDist struct {
	counts []float64
	total  float64
	mn     float64
}

// newWilcoxDist counts orderings by the recurrence on the largest
// observation: c(k; i, j) = c(k; i, j-1) + c(k-j; i-1, j). Only additions,
// so every count keeps full relative precision.
func newWilcoxDist(m, n int) *wilcoxDist {
	// a[i] holds c(.; i, j) for the current j, updated in place.
	a := make([][]float64, m+1)
	for i := range a {
		a[i] = make([]float64, 1, i*n+1)
		a[i][0] = 1
	}
	for j := 1; j <= n; j++ {
		for i := 1; i <= m; i++ {
			cur := a[i][:i*j+1] // the i new entries are zero: fresh capacity
			prev := a[i-1]
			for k, v := range prev {
				cur[k+j] += v
			}
			a[i] = cur
		}
	}
	d := &wilcoxDist{counts: a[m], mn: float64(m * n)}
	for _, c := range d.counts {
		d.total += c
	}
	return d
}

// p is R's pwilcox(q, m, n, lower.tail), summing over the shorter tail.
func (d *wilcoxDist) p(q float64, lower bool) float64 {
	q = math.Floor(q + 1e-7)
	if q < 0 {
		return boolTail(lower, 0)
	}
	if q >= d.mn {
		return boolTail(lower, 1)
	}
	var p float64
	if q <= d.mn/2 {
		for i := 0; i <= int(q); i++ {
			p += d.counts[i] / d.total
		}
	} else {
		q = d.mn - q
		for i := 0; i < int(q); i++ {
			p += d.counts[i] / d.total
		}
		lower = !lower
	}
	return boolTail(lower, p)
}

// boolTail returns p for the lower tail and its complement otherwise, as
// R's R_DT_val.
func boolTail(lower bool, p float64) float64 {
	if lower {
		return p
	}
	return 0.5 - p + 0.5
}

// q is R's qwilcox(x, m, n) for the lower tail.
func (d *wilcoxDist) q(x float64) int {
	if x == 0 {
		return 0
	}
	if x == 1 {
		return int(d.mn)
	}
	const eps = 2.220446049250313e-16
	var p float64
	if x <= 0.5 {
		x -= 10 * eps
		for q := 0; ; q++ {
			p += d.counts[q] / d.total
			if p >= x {
				return q
			}
		}
	}
	x = 1 - x + 10*eps
	for q := 0; ; q++ {
		p += d.counts[q] / d.total
		if p > x {
			return int(d.mn) - q
		}
	}
}
