package stats

import (
	"math"

	"github.com/gohere/gohere"
)

// normal is R's normal-approximation branch.
func (s *samples) normal(u2 int64, ties float64, opt MannWhitneyOptions) (MannWhitneyResult, error) {
	res := MannWhitneyResult{W: float64(u2) / 2, Method: "normal", ConfLevel: opt.ConfLevel}
	z, ok := s.standardize(u2, ties, opt.Correct, opt.Alternative)
	if !ok {
		return MannWhitneyResult{}, ErrAllTied
	}
	switch opt.Alternative {
	case Less:
		res.PValue = pnorm(z)
	case Greater:
		res.PValue = pnormUpper(z)
	default:
		res.PValue = 2 * min(pnorm(z), pnormUpper(z))
	}

	mumin := s.x[0] - s.y[len(s.y)-1]
	mumax := s.x[len(s.x)-1] - s.y[0]
	if !(mumin < mumax) {
		// Both samples are constant: R's uniroot has no interval.
		return MannWhitneyResult{}, ErrAllTied
	}
	tol := opt.TolRoot
	if tol == 0 {
		// Full precision: the rounding error of differences of this size.
		tol = 0x1p-52 * max(math.Abs(mumin), math.Abs(mumax))
	}
	// solve runs R's root finder. At full precision a root where the
	// statistic jumps is moved onto the jump itself, the pairwise difference
	// x[i] - y[j] inside the final bracket, so that an interval ending at a
	// tie ends exactly there (0, not 1e-14).
	solve := func(f func(float64) float64, fl, fu float64) float64 {
		b, c := zeroin(f, mumin, mumax, fl, fu, tol, 1000)
		if opt.TolRoot == 0 && b != c {
			if d := s.nearestDiff(b); math.Abs(d-b) <= math.Abs(c-b) {
				return d
			}
		}
		return b
	}
	var tied bool
	// stat is R's W(d): the standardized statistic of c(x - d, y).
	stat := func(d float64, correct bool) float64 {
		u, t := s.rank(d)
		v, ok := s.standardize(u, t, correct, opt.Alternative)
		if !ok {
			tied = true
			return 0
		}
		return v
	}
	wmin, wmax := stat(mumin, opt.Correct), stat(mumax, opt.Correct)
	root := func(zq float64) float64 {
		fl := wmin - zq
		if fl <= 0 {
			return mumin
		}
		fu := wmax - zq
		if fu >= 0 {
			return mumax
		}
		return solve(func(d float64) float64 { return stat(d, opt.Correct) - zq }, fl, fu)
	}
	alpha := 1 - opt.ConfLevel
	switch opt.Alternative {
	case TwoSided:
		res.CILow = root(-qnorm(alpha / 2))
		res.CIHigh = root(qnorm(alpha / 2))
	case Greater:
		res.CILow, res.CIHigh = root(-qnorm(alpha)), math.Inf(1)
	case Less:
		res.CILow, res.CIHigh = math.Inf(-1), root(qnorm(alpha))
	}
	// R sets correct <- FALSE before the estimate, and W sees it: the
	// estimate is the root of the uncorrected statistic.
	correctEst := opt.Correct && opt.CorrectEstimate
	fl, fu := stat(mumin, correctEst), stat(mumax, correctEst)
	if tied {
		return MannWhitneyResult{}, ErrAllTied
	}
	if sign(fl)*sign(fu) > 0 {
		// Rounding in x - d can keep the extreme differences from ranking
		// apart; R's uniroot stops here too.
		return MannWhitneyResult{}, gohere.Errorf(gohere.Invalid,
			"mann-whitney: no estimate: after rounding, the statistic does not change sign on [%v, %v]", mumin, mumax)
	}
	res.Estimate = solve(func(d float64) float64 { return stat(d, correctEst) }, fl, fu)
	if tied {
		return MannWhitneyResult{}, ErrAllTied
	}
	return res, nil
}

// standardize is R's (z - CORRECTION) / SIGMA for twice-U u2 and tie term
// ties; ok is false when the variance is zero (all observations tied).
func (s *samples) standardize(u2 int64, ties float64, correct bool, alt Alternative) (z float64, ok bool) {
	nx, ny := s.nx, s.ny
	dz := float64(u2)/2 - nx*ny/2
	sigma := math.Sqrt((nx * ny / 12) * ((nx + ny + 1) - ties/((nx+ny)*(nx+ny-1))))
	if sigma == 0 || math.IsNaN(sigma) {
		return 0, false
	}
	var corr float64
	if correct {
		switch alt {
		case Greater:
			corr = 0.5
		case Less:
			corr = -0.5
		default:
			corr = sign(dz) * 0.5
		}
	}
	return (dz - corr) / sigma, true
}

// nearestDiff returns the pairwise difference x[i] - y[j] closest to d, in
// one merge: as x[i] grows, so does the y nearest to x[i] - d.
func (s *samples) nearestDiff(d float64) float64 {
	best, bestDist := math.NaN(), math.Inf(1)
	j := 0
	for _, a := range s.x {
		t := a - d
		for j+1 < len(s.y) && s.y[j+1] <= t {
			j++
		}
		for _, k := range []int{j, j + 1} {
			if k < len(s.y) {
				if diff := a - s.y[k]; math.Abs(diff-d) < bestDist {
					best, bestDist = diff, math.Abs(diff-d)
				}
			}
		}
	}
	return best
}
