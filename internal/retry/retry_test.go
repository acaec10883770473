package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/retry"
)

func TestDelayGrowsIsCappedAndJittered(t *testing.T) {
	for _, tc := range []struct {
		failed int
		base   time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {5, 32 * time.Second}, {6, time.Minute}, {40, time.Minute}, {1 << 20, time.Minute}} {
		for range 100 {
			if got := retry.Delay(time.Second, time.Minute, tc.failed); got < tc.base/2 || got > tc.base*3/2 {
				t.Fatalf("Delay(1s, 1m, %d) = %s, want within ±50%% of %s", tc.failed, got, tc.base)
			}
		}
	}
}

func TestOr(t *testing.T) {
	if got := retry.Or(0, time.Minute); got != time.Minute {
		t.Errorf("Or(0, 1m) = %v", got)
	}
	if got := retry.Or(-time.Second, time.Minute); got != time.Minute {
		t.Errorf("Or(-1s, 1m) = %v", got)
	}
	if got := retry.Or(time.Second, time.Minute); got != time.Second {
		t.Errorf("Or(1s, 1m) = %v", got)
	}
}

// TestLoop: a round at once, one more per kick, rounds back to back while
// they fill their batch, errors reported, ctx's error returned at the end.
func TestLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	kick := make(chan struct{}, 1)
	rounds := make(chan int, 10)
	claimed := []int{5, 5, 2, 0} // the first two fill the batch of 5
	failures := make(chan error, 10)
	done := make(chan error, 1)
	n := -1
	go func() {
		done <- retry.Loop(ctx, kick, time.Hour, 5, func(context.Context) (int, error) {
			n++
			rounds <- n
			if n == 3 {
				return 0, errors.New("store down")
			}
			return claimed[n], nil
		}, func(err error) { failures <- err })
	}()
	for want := range 3 { // three rounds without a kick: 5, 5, then 2
		if got := <-rounds; got != want {
			t.Fatalf("round %d, want %d", got, want)
		}
	}
	select {
	case n := <-rounds:
		t.Fatalf("round %d ran without a kick after a short batch", n)
	case <-time.After(50 * time.Millisecond):
	}
	kick <- struct{}{}
	if got := <-rounds; got != 3 {
		t.Fatalf("round %d after the kick, want 3", got)
	}
	if err := <-failures; err.Error() != "store down" {
		t.Errorf("failure %v, want the store error", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Loop returned %v, want context.Canceled", err)
	}
	if len(failures) != 0 {
		t.Errorf("%d more failures reported, want only the store error", len(failures))
	}
}
