package judge

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkJudge: 20 value metrics with n = m = 1000 per side, both modes.
func BenchmarkJudge(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	const metrics, n = 20, 1000
	cfg := Config{}
	base, can := Data{}, Data{}
	for i := range metrics {
		name := fmt.Sprintf("m%02d", i)
		dir := []Direction{Increase, Decrease, Either}[i%3]
		cfg.Metrics = append(cfg.Metrics, Metric{Name: name, Query: "q", Direction: dir})
		bv, cv := make([]float64, n), make([]float64, n)
		for j := range n {
			bv[j] = 100 * rng.ExpFloat64()
			cv[j] = 100*rng.ExpFloat64() + float64(i%4)
		}
		base[name], can[name] = Samples{Values: bv}, Samples{Values: cv}
	}
	for _, mode := range []Mode{ModeGohere, ModeKayenta} {
		b.Run(string(mode), func(b *testing.B) {
			c := cfg
			c.Judge = mode
			for b.Loop() {
				if r := Judge(c, base, can); len(r.Metrics) != metrics {
					b.Fatal("metrics missing")
				}
			}
		})
	}
}
