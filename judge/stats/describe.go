package stats

import (
	"math"
	"slices"
)

// Quantile returns R's type-7 quantile (the default of quantile()) of an
// ascending slice. It returns NaN for an empty slice or p outside [0, 1].
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	// R: index <- 1 + (n-1)*p; qs <- (1-h)*x[lo] + h*x[hi], 1-based.
	index := 1 + float64(n-1)*p
	lo := math.Floor(index)
	hi := math.Ceil(index)
	qs := sorted[int(lo)-1]
	xhi := sorted[int(hi)-1]
	if index > lo && xhi != qs {
		h := index - lo
		qs = (1-h)*qs + h*xhi
	}
	return qs
}

// Summary describes one sample.
type Summary struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	Std    float64 `json:"std"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
}

// Describe summarises xs. Std is the sample standard deviation (n-1); it is 0
// for a single observation (R says NA), so the Summary always encodes as
// JSON. An empty sample gives the zero Summary; callers check N. Values must
// be finite: NaN and Inf are the caller's to remove.
func Describe(xs []float64) Summary {
	n := len(xs)
	if n == 0 {
		return Summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range s {
		ss += (v - mean) * (v - mean)
	}
	std := 0.0
	if n > 1 {
		std = math.Sqrt(ss / float64(n-1))
	}
	med := Quantile(s, 0.5)
	return Summary{
		N: n, Mean: mean, Median: med, Std: std,
		Min: s[0], Max: s[n-1],
		P50: med, P90: Quantile(s, 0.9), P99: Quantile(s, 0.99),
	}
}
