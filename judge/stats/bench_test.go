package stats

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMannWhitney: n = m, continuous data with a small shift, p-value,
// estimate and 95 % interval (the normal branch with R's defaults).
func BenchmarkMannWhitney(b *testing.B) {
	for _, n := range []int{1e3, 1e4, 1e5, 1e6} {
		r := rand.New(rand.NewPCG(1, uint64(n)))
		x, y := make([]float64, n), make([]float64, n)
		for i := range n {
			x[i] = r.NormFloat64() + 0.01
			y[i] = r.NormFloat64()
		}
		b.Run(fmt.Sprintf("n=1e%d", len(fmt.Sprint(n))-1), func(b *testing.B) {
			for b.Loop() {
				if _, err := MannWhitney(x, y, DefaultMannWhitney()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMannWhitneyTies: n = m = 1e6 of small integers, mostly zero (an
// error-count-like metric): the merge's tie path and many tie groups.
func BenchmarkMannWhitneyTies(b *testing.B) {
	n := 1_000_000
	r := rand.New(rand.NewPCG(2, 2))
	x, y := make([]float64, n), make([]float64, n)
	for i := range n {
		x[i] = float64(max(0, r.IntN(30)-20))
		y[i] = float64(max(0, r.IntN(30)-21))
	}
	for b.Loop() {
		if _, err := MannWhitney(x, y, DefaultMannWhitney()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMannWhitneyExact: n = m = 49, the largest exact case by R's rule.
func BenchmarkMannWhitneyExact(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	x, y := make([]float64, 49), make([]float64, 49)
	for i := range x {
		x[i], y[i] = r.NormFloat64(), r.NormFloat64()
	}
	for b.Loop() {
		if _, err := MannWhitney(x, y, DefaultMannWhitney()); err != nil {
			b.Fatal(err)
		}
	}
}
