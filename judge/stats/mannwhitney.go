package stats

import (
	"math"
	"slices"

	"github.com/gohere/gohere"
)

// Alternative names the alternative hypothesis, with R's spelling.
type Alternative string

// The alternatives of R's tests. For MannWhitney, Greater means x (the
// canary) is shifted up relative to y (the baseline).
const (
	TwoSided Alternative = "two.sided"
	Less     Alternative = "less"
	Greater  Alternative = "greater"
)

func (a Alternative) validate() error {
	switch a {
	case TwoSided, Less, Greater:
		return nil
	}
	return gohere.Errorf(gohere.Invalid, "alternative %q: want two.sided, less or greater", string(a))
}

// ErrAllTied is returned when every observation of both samples is the
// same value after shifting, so the normal approximation has no variance:
// R stops with "cannot compute confidence interval when all observations
// are tied". Callers judge such data by other means.
var ErrAllTied = &gohere.Error{Kind: gohere.Invalid,
	Msg: "mann-whitney: cannot compute confidence interval when all observations are tied"}

// MannWhitneyOptions are the arguments of R's wilcox.test besides the data.
//
// The zero value is NOT R's default: Correct is false there. Use
// DefaultMannWhitney for R's defaults. An empty Alternative means two.sided
// and a zero ConfLevel means 0.95.
type MannWhitneyOptions struct {
	Alternative Alternative
	Mu          float64 // location shift under the null: x - Mu vs y
	// Exact forces (true) or forbids (false) the exact distribution; nil is
	// R's rule: exact when both samples have fewer than 50 observations.
	// Ties always fall back to the normal approximation, as in R.
	Exact     *bool
	Correct   bool    // continuity correction of the normal approximation
	ConfLevel float64 // of the confidence interval, in (0, 1)
	// TolRoot is the root-finding tolerance of the normal-branch estimate
	// and interval (R's tol.root). Zero means full precision: the roots are
	// located to the rounding error of the data.
	TolRoot float64
	// CorrectEstimate applies the continuity correction to the statistic
	// whose root is the normal-branch estimate too. R 4.x does not; Kayenta's
	// NetflixACAJudge does: with Exact false, Correct true, TolRoot 1e-4 and
	// CorrectEstimate the results are Kayenta's to the last digit.
	CorrectEstimate bool
}

// DefaultMannWhitney returns R's defaults: two.sided, mu 0, exact by R's
// rule, continuity correction on, 95 % confidence, full-precision roots.
func DefaultMannWhitney() MannWhitneyOptions {
	return MannWhitneyOptions{Alternative: TwoSided, Correct: true, ConfLevel: 0.95}
}

// MannWhitneyResult is what R's wilcox.test(..., conf.int = TRUE) reports.
type MannWhitneyResult struct {
	W        float64 // the rank-sum statistic of x, minus its minimum
	PValue   float64
	Estimate float64 // Hodges-Lehmann shift of x - y ("difference in location")
	// CILow is -Inf for Less and CIHigh +Inf for Greater, as in R.
	CILow, CIHigh float64
	ConfLevel     float64 // the level achieved: lower than asked when R says "not achievable"
	Method        string  // "exact" or "normal"
}

// maxExactCells bounds n·m for the exact distribution: computing it costs
// (n·m)²/4 additions.
const maxExactCells = 20000

// MannWhitney is R 4.2.2's wilcox.test(x, y, alternative, mu, exact,
// correct, conf.int = TRUE, conf.level) with tol.root = opt.TolRoot: x is
// the canary, y the baseline, and the estimate and interval are for the
// shift of x relative to y.
//
// Exact branch: the p-value from the exact null distribution, the interval
// from order statistics of the pairwise differences at qwilcox ranks.
// Normal branch: tie-corrected variance, continuity correction when Correct,
// and the estimate and interval as roots of the standardized statistic,
// found by R's own zeroin (Brent) so that even its choice within a flat
// stretch is reproduced; each evaluation is one O(n+m) merge of the sorted
// samples, so nothing of size n·m is built.
func MannWhitney(x, y []float64, opt MannWhitneyOptions) (MannWhitneyResult, error) {
	opt, err := opt.normalize()
	if err != nil {
		return MannWhitneyResult{}, err
	}
	if len(x) == 0 || len(y) == 0 {
		return MannWhitneyResult{}, gohere.Errorf(gohere.Invalid,
			"mann-whitney: need observations in both samples, got %d and %d", len(x), len(y))
	}
	for _, in := range []struct {
		name string
		v    []float64
	}{{"x", x}, {"y", y}} {
		for i, v := range in.v {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return MannWhitneyResult{}, gohere.Errorf(gohere.Invalid,
					"mann-whitney: %s[%d] is %v: remove missing values first", in.name, i, v)
			}
		}
	}
	s := newSamples(x, y)
	if s.overflows(opt.Mu) {
		return MannWhitneyResult{}, gohere.Errorf(gohere.Invalid,
			"mann-whitney: differences of the samples overflow float64")
	}
	exact := len(x) < 50 && len(y) < 50
	if opt.Exact != nil {
		exact = *opt.Exact
	}
	u2, ties := s.rank(opt.Mu)
	if exact && ties == 0 {
		return s.exact(u2, opt)
	}
	return s.normal(u2, ties, opt)
}

func (o MannWhitneyOptions) normalize() (MannWhitneyOptions, error) {
	if o.Alternative == "" {
		o.Alternative = TwoSided
	}
	if err := o.Alternative.validate(); err != nil {
		return o, err
	}
	if o.ConfLevel == 0 {
		o.ConfLevel = 0.95
	}
	if !(o.ConfLevel > 0 && o.ConfLevel < 1) {
		return o, gohere.Errorf(gohere.Invalid, "mann-whitney: conf level %v: want a number in (0, 1)", o.ConfLevel)
	}
	if math.IsNaN(o.Mu) || math.IsInf(o.Mu, 0) {
		return o, gohere.Errorf(gohere.Invalid, "mann-whitney: mu %v: want a finite number", o.Mu)
	}
	if !(o.TolRoot >= 0) || math.IsInf(o.TolRoot, 0) {
		return o, gohere.Errorf(gohere.Invalid, "mann-whitney: tol root %v: want a finite number >= 0", o.TolRoot)
	}
	return o, nil
}

// samples holds both samples sorted ascending.
type samples struct {
	x, y      []float64
	ySentinel []float64 // y followed by +Inf, for the merge in rank
	tiesY     float64   // tie term of y alone
	nx, ny    float64
}

func newSamples(x, y []float64) *samples {
	s := &samples{x: slices.Clone(x), y: slices.Clone(y), nx: float64(len(x)), ny: float64(len(y))}
	slices.Sort(s.x)
	slices.Sort(s.y)
	s.ySentinel = append(slices.Clip(s.y), math.Inf(1))
	s.tiesY = tiesShifted(s.y, 0)
	return s
}

// overflows reports whether x - mu or the extreme pairwise differences are
// not finite, where R's answers stop meaning anything.
func (s *samples) overflows(mu float64) bool {
	xmin, xmax := s.x[0], s.x[len(s.x)-1]
	mumin, mumax := xmin-s.y[len(s.y)-1], xmax-s.y[0]
	for _, v := range []float64{xmin - mu, xmax - mu, mumin, mumax, xmax - mumin, xmin - mumax} {
		if math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

// rank ranks c(x - d, y) as R's rank() does and returns twice the
// Mann-Whitney U of x (sum of x's ranks minus nx(nx+1)/2, an exact
// half-integer) and the tie term sum(t^3 - t) over groups of equal values.
//
// It is a merge of the sorted samples, O(nx + ny), and the hot loop of the
// normal branch. A merge step waits on the previous one (load, subtract,
// compare), so x is cut into four lanes, each with its own position in y
// found by binary search, and the lanes are stepped together; lane
// boundaries never split a group of equal x - d, so tie groups stay whole.
func (s *samples) rank(d float64) (u2 int64, ties float64) {
	x, y := s.x, s.ySentinel
	ny := len(y) - 1
	ties = s.tiesY + tiesShifted(x, d)
	const lanes = 4
	var start [lanes + 1]int
	start[lanes] = len(x)
	for k := 1; k < lanes; k++ {
		b := max(start[k-1], k*len(x)/lanes)
		for b > 0 && b < len(x) && x[b]-d == x[b-1]-d {
			b++
		}
		start[k] = b
	}
	var jpos [lanes]int
	for k := range lanes {
		if start[k] < len(x) {
			a := x[start[k]] - d
			jpos[k], _ = slices.BinarySearchFunc(y[:ny], a, func(v, t float64) int {
				if v < t {
					return -1
				}
				return 1
			})
		}
	}
	i0, i1, i2, i3 := start[0], start[1], start[2], start[3]
	e0, e1, e2, e3 := start[1], start[2], start[3], start[4]
	j0, j1, j2, j3 := jpos[0], jpos[1], jpos[2], jpos[3]
	var below0, below1, below2, below3 int64
	for i0 < e0 && i1 < e1 && i2 < e2 && i3 < e3 {
		a0, b0 := x[i0]-d, y[j0]
		a1, b1 := x[i1]-d, y[j1]
		a2, b2 := x[i2]-d, y[j2]
		a3, b3 := x[i3]-d, y[j3]
		if a0 == b0 || a1 == b1 || a2 == b2 || a3 == b3 {
			// Rare with continuous data: step each lane on its own.
			var u int64
			var t float64
			i0, j0, u, t = step(x, y, ny, d, i0, j0)
			u2, ties = u2+u, ties+t
			i1, j1, u, t = step(x, y, ny, d, i1, j1)
			u2, ties = u2+u, ties+t
			i2, j2, u, t = step(x, y, ny, d, i2, j2)
			u2, ties = u2+u, ties+t
			i3, j3, u, t = step(x, y, ny, d, i3, j3)
			u2, ties = u2+u, ties+t
			continue
		}
		var lt0, lt1, lt2, lt3 int // y[j] < x[i] - d: take the y
		if b0 < a0 {
			lt0 = 1
		}
		if b1 < a1 {
			lt1 = 1
		}
		if b2 < a2 {
			lt2 = 1
		}
		if b3 < a3 {
			lt3 = 1
		}
		j0, j1, j2, j3 = j0+lt0, j1+lt1, j2+lt2, j3+lt3
		i0, i1, i2, i3 = i0+1-lt0, i1+1-lt1, i2+1-lt2, i3+1-lt3
		below0 += int64(j0) * int64(1-lt0)
		below1 += int64(j1) * int64(1-lt1)
		below2 += int64(j2) * int64(1-lt2)
		below3 += int64(j3) * int64(1-lt3)
	}
	u2 += 2 * (below0 + below1 + below2 + below3)
	for _, l := range [lanes][3]int{{i0, j0, e0}, {i1, j1, e1}, {i2, j2, e2}, {i3, j3, e3}} {
		i, j, e := l[0], l[1], l[2]
		for i < e {
			var u int64
			var t float64
			i, j, u, t = step(x, y, ny, d, i, j)
			u2, ties = u2+u, ties+t
		}
	}
	return u2, ties
}

// step advances one merge step at (i, j) and returns the new position, the
// contribution to twice U and the correction of the tie term when a group
// of x - d meets a group of y. It leaves i unchanged only to take a y.
func step(x, y []float64, ny int, d float64, i, j int) (int, int, int64, float64) {
	if i >= len(x) {
		return i, j, 0, 0
	}
	a, b := x[i]-d, y[j]
	switch {
	case b < a:
		return i, j + 1, 0, 0
	case a < b || j >= ny:
		return i + 1, j, 2 * int64(j), 0
	}
	i0, j0 := i, j
	for i < len(x) && x[i]-d == a {
		i++
	}
	for j < ny && y[j] == a {
		j++
	}
	cx, cy := int64(i-i0), int64(j-j0)
	return i, j, cx * (2*int64(j0) + cy), tieTerm(cx+cy) - tieTerm(cx) - tieTerm(cy)
}

// tiesShifted is the tie term of x - d alone: usually that of x, but
// rounding can merge close values, and R ranks the rounded ones.
func tiesShifted(x []float64, d float64) float64 {
	var ties float64
	run := int64(1)
	for i := 1; i < len(x); i++ {
		if x[i]-d == x[i-1]-d {
			run++
		} else if run > 1 {
			ties += tieTerm(run)
			run = 1
		}
	}
	return ties + tieTerm(run)
}

// tieTerm is t^3 - t, R's contribution of a group of t equal values.
func tieTerm(t int64) float64 {
	f := float64(t)
	return f*f*f - f
}
