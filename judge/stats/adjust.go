package stats

import (
	"cmp"
	"math"
	"slices"
)

// AdjustHolm returns R's p.adjust(p, method = "holm"). NaN entries stay NaN
// and do not count towards the number of tests, as in R.
func AdjustHolm(p []float64) []float64 {
	return adjust(p, func(n int, sorted []float64) {
		// ascending: pmin(1, cummax((n - i + 1) * p[o]))
		run := math.Inf(-1)
		for i, v := range sorted {
			run = max(run, float64(n-i)*v)
			sorted[i] = min(1, run)
		}
	}, false)
}

// AdjustBH returns R's p.adjust(p, method = "BH") (Benjamini-Hochberg false
// discovery rate). NaN entries stay NaN, as in R.
func AdjustBH(p []float64) []float64 {
	return adjust(p, func(n int, sorted []float64) {
		// descending: pmin(1, cummin(n / i * p[o])) with i = n..1
		run := math.Inf(1)
		for k, v := range sorted {
			i := n - k
			run = min(run, float64(n)/float64(i)*v)
			sorted[k] = min(1, run)
		}
	}, true)
}

// adjust orders the non-NaN p-values (descending when desc), lets step
// rewrite them in that order and scatters them back.
func adjust(p []float64, step func(n int, sorted []float64), desc bool) []float64 {
	out := slices.Clone(p)
	idx := make([]int, 0, len(p))
	for i, v := range p {
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	n := len(idx)
	if n <= 1 {
		return out
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if desc {
			return cmp.Compare(p[b], p[a])
		}
		return cmp.Compare(p[a], p[b])
	})
	sorted := make([]float64, n)
	for k, i := range idx {
		sorted[k] = p[i]
	}
	step(n, sorted)
	for k, i := range idx {
		out[i] = sorted[k]
	}
	return out
}
