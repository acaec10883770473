// Package retry is what the durable queues (Grafana annotations, chat
// notifications) share: their polling loop and their retry delays,
// exponential, capped and jittered.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is the wait before the attempt after `failed` failures:
// lo·2^failed capped at hi, jittered by ±50 % so that many entries failing
// together do not retry together.
func Delay(lo, hi time.Duration, failed int) time.Duration {
	d := lo
	for i := 0; i < failed && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

// Or returns d, or def when d is not positive: the zero value of an
// option takes its default.
func Or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Loop runs round at once, then whenever kick fires or poll has passed,
// until ctx ends, and returns ctx's error. A round that claimed a full
// batch without error runs again at once: more may be due. Its error goes
// to failed (never while ctx is ending) and the loop goes on: the entries
// stay in the database.
func Loop(ctx context.Context, kick <-chan struct{}, poll time.Duration, batch int,
	round func(context.Context) (int, error), failed func(error)) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kick:
		case <-timer.C:
		}
		n, err := round(ctx)
		if err != nil && ctx.Err() == nil {
			failed(err)
		}
		wait := poll
		if n == batch && err == nil {
			wait = 0
		}
		timer.Reset(wait)
	}
}
