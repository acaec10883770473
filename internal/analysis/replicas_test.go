package analysis_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/pgtest"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/store"
)

// warnCounter counts the records at warning level and above: a runner warns
// when another runner had already recorded its interval.
type warnCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (h warnCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.n.Add(1)
	}
	return h.Handler.Handle(ctx, r)
}

func (h warnCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return warnCounter{h.Handler.WithAttrs(as), h.n}
}

func (h warnCounter) WithGroup(name string) slog.Handler {
	return warnCounter{h.Handler.WithGroup(name), h.n}
}

// TestReplicas runs 200 short analyses (3 intervals of 1 s) on one
// PostgreSQL with two replicas, each with its own connection pool, and a
// third that hangs in its first intervals and is killed: every interval is
// judged exactly once, by the two survivors, with no duplicate attempts.
func TestReplicas(t *testing.T) {
	const analyses, intervals = 200, 3
	dsn := pgtest.Start(t)
	e := newEnv(t, dsn)
	ids := make([]string, analyses)
	for i := range analyses {
		ids[i] = e.analysis("  lifetime: 3s\n  interval: 1s\n  step: 100ms\n", time.Time{}, time.Time{}).ID
	}

	var warnings atomic.Int64
	replica := func(owner string, src analysis.Source, log *slog.Logger) func() {
		db, err := store.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		r, err := analysis.NewRunner(analysis.Options{Store: db, Source: src, Owner: owner, Lease: 2 * time.Second,
			Poll: 50 * time.Millisecond, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		return func() { cancel(); <-done }
	}
	var hung atomic.Int64
	doomed := replica("doomed", analysis.SourceFunc(func(ctx context.Context, _ string, _, _ time.Time, _ time.Duration) ([]prom.Series, error) {
		hung.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	}), slog.New(slog.DiscardHandler))
	log := slog.New(warnCounter{slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}), &warnings})
	stopA := replica("a", e.src, log)
	defer stopA()
	stopB := replica("b", e.src, log)
	defer stopB()
	for hung.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	doomed()

	deadline := time.Now().Add(60 * time.Second)
	for {
		done := 0
		for _, id := range ids {
			if !e.get(id).State.Active() {
				done++
			}
		}
		if done == analyses {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d analyses finished within a minute", done, analyses)
		}
		time.Sleep(200 * time.Millisecond)
	}

	by := map[string]int{}
	for _, id := range ids {
		a := e.get(id)
		var seqs []int
		for _, iv := range a.Intervals {
			seqs = append(seqs, iv.Seq)
			by[iv.JudgedBy]++
		}
		if diff := cmp.Diff([]int{1, 2, 3}, seqs); diff != "" || a.State != store.AnalysisAwaitingDecision {
			t.Errorf("analysis %s: state %s, intervals (-want +got):\n%s", id, a.State, diff)
		}
	}
	t.Logf("intervals judged per replica: %v; the doomed replica hung in %d queries", by, hung.Load())
	if len(by) != 2 || by["a"] == 0 || by["b"] == 0 || by["a"]+by["b"] != analyses*intervals {
		t.Errorf("intervals judged per replica %v; want both survivors sharing all %d", by, analyses*intervals)
	}
	if n := warnings.Load(); n != 0 {
		t.Errorf("%d warnings: an interval was judged twice or a store call failed", n)
	}
}
