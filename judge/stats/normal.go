package stats

import "math"

// pnorm is the standard normal lower tail P(Z <= z); pnormUpper is P(Z > z).
// Both use erfc so that far tails keep their relative precision (1 - cdf
// would not).
func pnorm(z float64) float64      { return 0.5 * math.Erfc(-z/math.Sqrt2) }
func pnormUpper(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// qnorm is the standard normal quantile for p in (0, 1). math.Erfinv is
// Wichura's AS241, the algorithm of R's qnorm.
func qnorm(p float64) float64 {
	if p < 0.5 {
		return -math.Sqrt2 * math.Erfinv(1-2*p)
	}
	return math.Sqrt2 * math.Erfinv(2*p-1)
}
