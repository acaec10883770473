package store_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

// ids are the entry ids of a claim, in its order.
func ids(es []store.OutboxEntry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// TestClaimOutboxHoldsBackLaterEntriesOfADeploy: while a deploy's entry is
// leased or waits for its retry, no claim takes the deploy's later entries
// (another replica would race the first to create the annotation); a claim
// takes all of a deploy's entries together.
func TestClaimOutboxHoldsBackLaterEntriesOfADeploy(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		now := time.Now().Add(time.Second)
		first, err := db.ClaimOutbox(ctx, now, time.Minute, 10)
		if err != nil || len(first) != 1 {
			t.Fatalf("claim = %v, %v; want the create entry", first, err)
		}
		if _, err := db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		other := create(t, db, deploy("payments", "prod", "p1", base))
		later := time.Now().Add(time.Second)
		es, err := db.ClaimOutbox(ctx, later, time.Minute, 10)
		if err != nil || len(es) != 1 || es[0].DeployID != other.ID {
			t.Fatalf("claim while %s's create is leased = %+v, %v; want only %s's entry", d.ID, es, err, other.ID)
		}

		// A failed delivery waits for its retry: the finish waits with it.
		retryAt := later.Add(10 * time.Second)
		if err := db.RetryOutbox(ctx, first[0].ID, retryAt, "grafana: 503"); err != nil {
			t.Fatal(err)
		}
		if es, err := db.ClaimOutbox(ctx, retryAt.Add(-time.Millisecond), time.Minute, 10); err != nil || len(es) != 0 {
			t.Fatalf("claim before the retry is due = %+v, %v; want none", es, err)
		}
		es, err = db.ClaimOutbox(ctx, retryAt, time.Minute, 10)
		if err != nil || len(es) != 2 || es[0].ID != first[0].ID || es[1].DeployID != d.ID || es[0].Attempts != 1 {
			t.Fatalf("claim when the retry is due = %+v, %v; want %s's create and finish together", es, err, d.ID)
		}

		// Delivered: the deploy's next change is claimed at once.
		for _, e := range es {
			if err := db.CompleteOutbox(ctx, e.ID, d.ID, 7); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.EnqueueRunning(ctx, time.Now()); err != nil { // d is finished: nothing for it
			t.Fatal(err)
		}
		if pending(t, db) != 1 {
			t.Fatalf("%d entries pending, want only %s's", pending(t, db), other.ID)
		}
	})
}

// TestClaimOutboxOneDeployOneClaimer: claimers racing over deploys with
// two entries each (create, finish) never split a deploy: each deploy's
// entries arrive in one claim, exactly once.
func TestClaimOutboxOneDeployOneClaimer(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		const n, claimers = 100, 8
		for i := range n {
			create(t, db, deploy("checkout", "prod", fmt.Sprintf("v%d", i), base))
		}
		ds, err := db.ListDeploys(t.Context(), gohere.DeployFilter{Limit: n})
		if err != nil || len(ds) != n {
			t.Fatalf("ListDeploys = %d, %v", len(ds), err)
		}
		for _, d := range ds { // every finish entry is younger than every create
			if _, err := db.FinishDeploy(t.Context(), d.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now().Add(time.Second)
		var (
			mu     sync.Mutex
			claims = map[string][][]int64{} // deploy → the entry ids of each claim that held it
		)
		var wg sync.WaitGroup
		for range claimers {
			wg.Go(func() {
				for {
					es, err := db.ClaimOutbox(t.Context(), now, time.Minute, 3)
					if err != nil {
						t.Errorf("ClaimOutbox: %v", err)
						return
					}
					if len(es) == 0 {
						return
					}
					if !slices.IsSorted(ids(es)) {
						t.Errorf("claimed entries not oldest first: %v", ids(es))
					}
					byDeploy := map[string][]int64{}
					for _, e := range es {
						byDeploy[e.DeployID] = append(byDeploy[e.DeployID], e.ID)
					}
					if len(byDeploy) > 3 {
						t.Errorf("one claim of limit 3 took %d deploys", len(byDeploy))
					}
					mu.Lock()
					for id, got := range byDeploy {
						claims[id] = append(claims[id], got)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claims) != n {
			t.Errorf("claimed entries of %d deploys, want %d", len(claims), n)
		}
		for id, got := range claims {
			if len(got) != 1 || len(got[0]) != 2 {
				t.Errorf("deploy %s: claims %v; want its two entries in one claim", id, got)
			}
		}
	})
}
