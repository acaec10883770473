package stats

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkShiftLook: one look of a fresh ShiftMonitor over 1e5 canary and
// 1e5 baseline observations (12,500 blocks of 8 + 8, 800,000 differences,
// answered by selection). Target: < 50 ms on one core.
func BenchmarkShiftLook(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	n := 100_000
	x, y := make([]float64, n), make([]float64, n)
	for i := range n {
		x[i], y[i] = r.NormFloat64()+0.01, r.NormFloat64()
	}
	for b.Loop() {
		m, err := NewShiftMonitor(ShiftOptions{Direction: Increase})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Look(x, y); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShiftMonitor60: a whole canary of 60 looks adding 1,000
// observations per sample each (60,000 + 60,000 at the end).
func BenchmarkShiftMonitor60(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	n := 60_000
	x, y := make([]float64, n), make([]float64, n)
	for i := range n {
		x[i], y[i] = r.NormFloat64(), r.NormFloat64()
	}
	for b.Loop() {
		m, _ := NewShiftMonitor(ShiftOptions{})
		for look := 1; look <= 60; look++ {
			if _, err := m.Look(x[:look*1000], y[:look*1000]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRateLook: one look of a RateMonitor that has seen 60 looks of
// different exposure ratios (the general, grouped likelihood).
func BenchmarkRateLook(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	m, _ := NewRateMonitor(RateOptions{})
	var c RateCounts
	for range 60 {
		c.XTotal += float64(1000 + r.IntN(1000))
		c.YTotal += float64(9000 + r.IntN(1000))
		c.XEvents = int64(c.XTotal * 0.003)
		c.YEvents = int64(c.YTotal * 0.002)
		if _, err := m.Look(c); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		m.run = newRunning(0.05) // every look searches both bounds
		m.bounds()
		m.logEHarm(m.eta0)
	}
}
