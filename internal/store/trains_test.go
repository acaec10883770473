package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/train"
)

func person(name string) train.Actor { return train.Actor{Name: name, Human: true} }

func act(t *testing.T, db *store.DB, name string, at time.Time, a store.TrainAction) train.Train {
	t.Helper()
	tr, _, err := db.ActOnTrain(t.Context(), name, at, a)
	if err != nil {
		t.Fatalf("ActOnTrain(%s): %v", name, err)
	}
	return tr
}

func joinAs(n string, at time.Time) store.TrainAction {
	return func(t *train.Train) (train.Event, error) { return t.Join(person(n), 3, at) }
}

func TestTrainActions(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		db.EnableNotifications()
		ctx := t.Context()
		empty, err := db.Train(ctx, "checkout")
		if err != nil || len(empty.Cars) != 0 || empty.Name != "checkout" {
			t.Fatalf("Train of nobody = %+v, %v; want an empty train", empty, err)
		}
		for i, n := range []string{"alice", "bob", "carol", "dave"} {
			act(t, db, "checkout", base.Add(time.Duration(i)*time.Second), joinAs(n, base))
		}
		// A refused action changes nothing and queues nothing.
		_, _, err = db.ActOnTrain(ctx, "checkout", base, joinAs("alice", base))
		wantKind(t, "second join", err, gohere.Conflict)
		for _, n := range []string{"alice", "bob", "carol"} {
			act(t, db, "checkout", base, func(t *train.Train) (train.Event, error) { return t.In(person(n), nil, base) })
		}
		d := create(t, db, deploy("checkout", "staging", "v2", base))
		act(t, db, "checkout", base, func(t *train.Train) (train.Event, error) { return t.Deploying(person("alice"), d.ID, base) })

		// The staging deploy's finish moves the car on at the next sweep,
		// once, however many replicas sweep.
		if _, err := db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		changes := make([]int, 4)
		for i := range changes {
			wg.Go(func() {
				n, err := db.SweepTrains(ctx, base.Add(2*time.Minute), time.Hour, 3)
				if err != nil {
					t.Errorf("SweepTrains: %v", err)
				}
				changes[i] = n
			})
		}
		wg.Wait()
		if total := changes[0] + changes[1] + changes[2] + changes[3]; total != 1 {
			t.Errorf("sweeps made %v changes, want 1 in all", changes)
		}
		got, err := db.Train(ctx, "checkout")
		if err != nil {
			t.Fatal(err)
		}
		if h, _ := got.Head(); h.State != train.Verifying || h.DeployID != "" || len(got.Cars) != 2 {
			t.Errorf("after the staging deploy: head %+v, %d cars; want verifying, no deploy, 2 cars", h, len(got.Cars))
		}
		ts, err := db.ListTrains(ctx)
		if err != nil || len(ts) != 1 || ts[0].Name != "checkout" {
			t.Errorf("ListTrains = %v, %v; want checkout", ts, err)
		}

		// One message per change, in order, each claimed once.
		evs, err := db.TrainMessages(ctx, "checkout")
		if err != nil {
			t.Fatal(err)
		}
		var kinds []train.EventKind
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
		}
		want := []train.EventKind{"joined", "joined", "joined", "joined", "in", "in", "in", "deploying", "deployed"}
		if len(kinds) != len(want) {
			t.Fatalf("messages %v, want %v", kinds, want)
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("messages %v, want %v", kinds, want)
			}
		}
		seen := 0
		for range 20 {
			ms, err := db.ClaimTrainMessages(ctx, time.Now(), time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 0 {
				break
			}
			if len(ms) != 1 {
				t.Fatalf("claimed %d messages of one train at once, want 1 (in order)", len(ms))
			}
			if err := db.MarkTrainMessage(ctx, ms[0].ID, "chat"); err != nil {
				t.Fatal(err)
			}
			if err := db.CompleteTrainMessage(ctx, ms[0].ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			seen++
		}
		if seen != len(want) {
			t.Errorf("delivered %d messages, want %d", seen, len(want))
		}
	})
}

// TestTrainOneWriter: joins from many goroutines (replicas) each land once.
func TestTrainOneWriter(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		var wg sync.WaitGroup
		names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		for _, n := range names {
			wg.Go(func() {
				if _, _, err := db.ActOnTrain(t.Context(), "shared", base, joinAs(n, base)); err != nil {
					t.Errorf("join %s: %v", n, err)
				}
			})
		}
		wg.Wait()
		got, err := db.Train(t.Context(), "shared")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(got.People()); n != len(names) || len(got.Cars) != 3 {
			t.Errorf("%d people in %d cars, want %d in 3", n, len(got.Cars), len(names))
		}
	})
}
