package stats

import (
	"math"

	"github.com/gohere/gohere"
)

// ProportionResult is the outcome of ProportionTest.
type ProportionResult struct {
	PValue float64 `json:"p_value"`
	P1     float64 `json:"p1"`     // k1/n1, the canary's rate
	P2     float64 `json:"p2"`     // k2/n2, the baseline's rate
	Method string  `json:"method"` // "fisher" or "normal"
}

// fisherMaxN bounds the total count for which the exact test is used; beyond
// it the normal approximation is as good and the hypergeometric support
// would be large.
const fisherMaxN = 1_000_000

// ProportionTest compares the rate k1/n1 of sample 1 (the canary) with k2/n2
// of sample 2 (the baseline). Alternative "greater" asks whether the canary's
// rate is higher. With n1+n2 <= 1e6 it is R's fisher.test on the 2x2 table
// rbind(c(k1, n1-k1), c(k2, n2-k2)) (method "fisher"); above, R's
// prop.test(c(k1, k2), c(n1, n2), correct = TRUE) (method "normal").
func ProportionTest(k1, n1, k2, n2 int64, alt Alternative) (ProportionResult, error) {
	if err := alt.validate(); err != nil {
		return ProportionResult{}, err
	}
	for _, c := range [][2]int64{{k1, n1}, {k2, n2}} {
		if c[0] < 0 || c[1] <= 0 || c[0] > c[1] {
			return ProportionResult{}, gohere.Errorf(gohere.Invalid,
				"proportion test: need 0 <= k <= n and n > 0, got k=%d n=%d", c[0], c[1])
		}
	}
	res := ProportionResult{P1: float64(k1) / float64(n1), P2: float64(k2) / float64(n2)}
	if n1+n2 <= fisherMaxN {
		res.Method = "fisher"
		res.PValue = fisherTest(k1, n1, k2, n2, alt)
	} else {
		res.Method = "normal"
		res.PValue = propTest(k1, n1, k2, n2, alt)
	}
	return res, nil
}

// fisherTest is R's fisher.test for a 2x2 table with odds ratio 1 under the
// null: x = k1 is hypergeometric with m = k1+k2 "white" balls, n = the
// failures, k = n1 drawn.
func fisherTest(k1, n1, k2, n2 int64, alt Alternative) float64 {
	m := float64(k1 + k2)
	nb := float64(n1 - k1 + n2 - k2)
	k := float64(n1)
	lo := max(0, k-nb)
	hi := min(k, m)
	x := float64(k1)
	// Densities only matter within ~745 nats of the mode: below that exp
	// underflows to zero in R as well. The hypergeometric is unimodal, so
	// walk out from the mode until the terms vanish.
	mode := math.Floor((k + 1) * (m + 1) / (m + nb + 2))
	mode = min(max(mode, lo), hi)
	lmax := dhyperLog(mode, m, nb, k)
	const cut = 800
	from, to := mode, mode
	for from > lo && dhyperLog(from-1, m, nb, k) > lmax-cut {
		from--
	}
	for to < hi && dhyperLog(to+1, m, nb, k) > lmax-cut {
		to++
	}
	var total, tail float64
	obs := math.Inf(-1)
	if x >= from && x <= to {
		obs = dhyperLog(x, m, nb, k) - lmax
	}
	relErr := 1 + 1e-7
	dObs := math.Exp(obs)
	for s := from; s <= to; s++ {
		d := math.Exp(dhyperLog(s, m, nb, k) - lmax)
		total += d
		switch alt {
		case Less:
			if s <= x {
				tail += d
			}
		case Greater:
			if s >= x {
				tail += d
			}
		default:
			if d <= dObs*relErr {
				tail += d
			}
		}
	}
	return min(1, tail/total)
}

// propTest is R's prop.test for two groups with Yates' correction.
func propTest(k1, n1, k2, n2 int64, alt Alternative) float64 {
	x := [2]float64{float64(k1), float64(k2)}
	n := [2]float64{float64(n1), float64(n2)}
	est := [2]float64{x[0] / n[0], x[1] / n[1]}
	p := (x[0] + x[1]) / (n[0] + n[1])
	delta := est[0] - est[1]
	yates := min(0.5, math.Abs(delta)/(1/n[0]+1/n[1]))
	var stat float64
	for i := range 2 {
		for _, c := range [2][2]float64{{x[i], n[i] * p}, {n[i] - x[i], n[i] * (1 - p)}} {
			d := math.Abs(c[0]-c[1]) - yates
			stat += d * d / c[1]
		}
	}
	switch alt {
	case Less:
		return pnorm(sign(delta) * math.Sqrt(stat))
	case Greater:
		return pnormUpper(sign(delta) * math.Sqrt(stat))
	}
	// pchisq(stat, 1, lower.tail = FALSE) = P(|Z| > sqrt(stat))
	return math.Erfc(math.Sqrt(stat / 2))
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// dhyperLog is log dhyper(x, r, b, n) computed as R does, from Loader's
// saddle-point binomial densities, which keep full relative precision for
// large counts (differences of lgamma would not).
func dhyperLog(x, r, b, n float64) float64 {
	if n < x || r < x || n-x > b {
		return math.Inf(-1)
	}
	if n == 0 {
		if x == 0 {
			return 0
		}
		return math.Inf(-1)
	}
	p := n / (r + b)
	q := (r + b - n) / (r + b)
	return dbinomRawLog(x, r, p, q) + dbinomRawLog(n-x, b, p, q) - dbinomRawLog(n, r+b, p, q)
}

// dbinomRawLog is R's dbinom_raw(x, n, p, q, log = TRUE).
func dbinomRawLog(x, n, p, q float64) float64 {
	if p == 0 {
		if x == 0 {
			return 0
		}
		return math.Inf(-1)
	}
	if q == 0 {
		if x == n {
			return 0
		}
		return math.Inf(-1)
	}
	if x == 0 {
		if n == 0 {
			return 0
		}
		if p < 0.1 {
			return -bd0(n, n*q) - n*p
		}
		return n * math.Log(q)
	}
	if x == n {
		if q < 0.1 {
			return -bd0(n, n*p) - n*q
		}
		return n * math.Log(p)
	}
	if x < 0 || x > n {
		return math.Inf(-1)
	}
	lc := stirlerr(n) - stirlerr(x) - stirlerr(n-x) - bd0(x, n*p) - bd0(n-x, n*q)
	lf := math.Log(2*math.Pi) + math.Log(x) + math.Log1p(-x/n)
	return lc - 0.5*lf
}

// bd0 is Loader's deviance term x log(x/np) + np - x, computed stably.
func bd0(x, np float64) float64 {
	if math.Abs(x-np) < 0.1*(x+np) {
		v := (x - np) / (x + np)
		s := (x - np) * v
		if math.Abs(s) < 0x1p-1022 { // DBL_MIN
			return s
		}
		ej := 2 * x * v
		v *= v
		for j := 1; j < 1000; j++ {
			ej *= v
			prev := s
			s += ej / float64(2*j+1)
			if s == prev {
				return s
			}
		}
	}
	return x*math.Log(x/np) + np - x
}

// stirlerr(n) = log(n!) - log(sqrt(2 pi n) (n/e)^n), for integer n here.
func stirlerr(n float64) float64 {
	const (
		s0 = 1.0 / 12
		s1 = 1.0 / 360
		s2 = 1.0 / 1260
		s3 = 1.0 / 1680
		s4 = 1.0 / 1188
	)
	if n <= 15 {
		lg, _ := math.Lgamma(n + 1)
		return lg - (n+0.5)*math.Log(n) + n - 0.5*math.Log(2*math.Pi)
	}
	nn := n * n
	switch {
	case n > 500:
		return (s0 - s1/nn) / n
	case n > 80:
		return (s0 - (s1-s2/nn)/nn) / n
	case n > 35:
		return (s0 - (s1-(s2-s3/nn)/nn)/nn) / n
	}
	return (s0 - (s1-(s2-(s3-s4/nn)/nn)/nn)/nn) / n
}
