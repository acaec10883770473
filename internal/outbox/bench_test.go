package outbox

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gohere/gohere/judge/stats"
)

// BenchmarkDeliveryLag measures how long a recorded deploy waits for its
// annotation in a healthy Grafana (the double) with the worker running and
// kicked on each write, as the server does. Issue 2's target: p99 < 1s.
func BenchmarkDeliveryLag(b *testing.B) {
	f := newFixture(b)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	go f.w.Run(ctx)

	var lags []float64 // milliseconds
	for b.Loop() {
		before := len(f.g.Annotations())
		f.deploy(b, "checkout", "v"+strconv.Itoa(len(lags)))
		recorded := time.Now()
		f.w.Kick()
		for len(f.g.Annotations()) == before {
			time.Sleep(50 * time.Microsecond)
		}
		lags = append(lags, float64(time.Since(recorded).Microseconds())/1000)
	}
	slices.Sort(lags)
	b.ReportMetric(stats.Quantile(lags, 0.5), "p50-ms")
	b.ReportMetric(stats.Quantile(lags, 0.99), "p99-ms")
}
