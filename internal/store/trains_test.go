package store_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
		var kinds []train.EventKind
		for _, e := range claimAll(t, db) {
			kinds = append(kinds, e.Kind)
		}
		want := []train.EventKind{"joined", "joined", "joined", "joined", "in", "in", "in", "deploying", "deployed"}
		if diff := cmp.Diff(want, kinds); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
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

// claimAll claims, delivers and completes every queued train message, one
// at a time (a train's messages go in order), and returns their events.
func claimAll(t *testing.T, db *store.DB) []train.Event {
	t.Helper()
	var out []train.Event
	for range 100 {
		ms, err := db.ClaimTrainMessages(t.Context(), time.Now(), time.Minute, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			return out
		}
		if len(ms) != 1 {
			t.Fatalf("claimed %d messages of one train at once, want 1 (in order)", len(ms))
		}
		if err := db.MarkTrainMessage(t.Context(), ms[0].ID, "chat"); err != nil {
			t.Fatal(err)
		}
		if err := db.CompleteTrainMessage(t.Context(), ms[0].ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		out = append(out, ms[0].Event)
	}
	t.Fatal("more than 100 train messages")
	return nil
}

// stagedCar is a checkout train whose one-member car went to staging at
// base+1h.
func stagedCar(t *testing.T, db *store.DB) {
	t.Helper()
	act(t, db, "checkout", base, joinAs("alice", base))
	at := base.Add(time.Hour)
	act(t, db, "checkout", at, func(t *train.Train) (train.Event, error) { return t.In(person("alice"), nil, at) })
}

// TestTrainDeployMustBeTheCars: the deploy tied to the head car is
// recorded, running and started once the car entered its stage.
func TestTrainDeployMustBeTheCars(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		db.EnableNotifications()
		ctx := t.Context()
		stagedCar(t, db)
		old := create(t, db, deploy("checkout", "staging", "v1", base.Add(90*time.Minute)))
		if _, err := db.FinishDeploy(ctx, old.ID, gohere.StatusSucceeded, base.Add(100*time.Minute)); err != nil {
			t.Fatal(err)
		}
		before := create(t, db, deploy("checkout", "staging", "v0", base.Add(30*time.Minute)))
		good := create(t, db, deploy("checkout", "staging", "v2", base.Add(2*time.Hour)))
		claimAll(t, db)
		ci := train.Actor{Name: "ci"}
		tie := func(id string) error {
			at := base.Add(3 * time.Hour)
			_, _, err := db.ActOnTrain(ctx, "checkout", at, func(t *train.Train) (train.Event, error) { return t.Deploying(ci, id, at) })
			return err
		}
		for _, tt := range []struct {
			name, id, says string
			want           gohere.Kind
		}{
			{"no such deploy", "no-such-deploy", "not recorded", gohere.Invalid},
			{"an old succeeded deploy", old.ID, "is succeeded", gohere.Conflict},
			{"started before the car went to staging", before.ID, "before car 1 went staging", gohere.Conflict},
		} {
			err := tie(tt.id)
			wantKind(t, tt.name, err, tt.want)
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("%s: %q, want it to say %q", tt.name, err, tt.says)
			}
			if tr, _ := db.Train(ctx, "checkout"); tr.Cars[0].DeployID != "" {
				t.Fatalf("%s: the refused deploy %s was tied to the car", tt.name, tr.Cars[0].DeployID)
			}
		}
		if evs := claimAll(t, db); len(evs) != 0 {
			t.Errorf("refusals queued messages: %v", evs)
		}
		if err := tie(good.ID); err != nil {
			t.Fatalf("the car's own running deploy: %v", err)
		}
		if tr, _ := db.Train(ctx, "checkout"); tr.Cars[0].DeployID != good.ID {
			t.Errorf("car's deploy %q, want %s", tr.Cars[0].DeployID, good.ID)
		}
	})
}

// TestTrainStoppedKeepsDeploy: the car's deploy succeeding while the train
// is stopped moves nothing; the human's start moves it, once.
func TestTrainStoppedKeepsDeploy(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		db.EnableNotifications()
		ctx := t.Context()
		stagedCar(t, db)
		d := create(t, db, deploy("checkout", "staging", "v2", base.Add(2*time.Hour)))
		at := base.Add(2 * time.Hour)
		act(t, db, "checkout", at, func(t *train.Train) (train.Event, error) { return t.Deploying(person("alice"), d.ID, at) })
		act(t, db, "checkout", at, func(t *train.Train) (train.Event, error) { return t.Stop(person("alice"), "db is down", at) })
		if _, err := db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, base.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		claimAll(t, db)
		for i := range 3 {
			if n, err := db.SweepTrains(ctx, base.Add(time.Duration(4+i)*time.Hour), time.Hour, 3); err != nil || n != 0 {
				t.Fatalf("sweep of a stopped train: %d changes, %v; want none", n, err)
			}
		}
		if tr, _ := db.Train(ctx, "checkout"); tr.Cars[0].State != train.Staging || tr.Cars[0].DeployID != d.ID || !tr.Stopped {
			t.Fatalf("stopped train after its deploy succeeded: %+v; want staging, deploy kept", tr)
		}
		at = base.Add(8 * time.Hour)
		tr := act(t, db, "checkout", at, func(t *train.Train) (train.Event, error) { return t.Start(person("ivan"), at) })
		if tr.Stopped || tr.Cars[0].State != train.Verifying || tr.Cars[0].DeployID != "" {
			t.Errorf("after the start: %+v; want running, verifying", tr)
		}
		var kinds []train.EventKind
		for _, e := range claimAll(t, db) {
			kinds = append(kinds, e.Kind)
		}
		if diff := cmp.Diff([]train.EventKind{train.EventStarted, train.EventDeployed}, kinds); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
	})
}

// TestTrainSweepGoesOn: a train that does not read, or fails its sweep,
// leaves the page and the sweep of the others working.
func TestTrainSweepGoesOn(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		ctx := t.Context()
		stagedCar(t, db)
		d := create(t, db, deploy("checkout", "staging", "v2", base.Add(2*time.Hour)))
		at := base.Add(2 * time.Hour)
		act(t, db, "checkout", at, func(t *train.Train) (train.Event, error) { return t.Deploying(person("alice"), d.ID, at) })
		if _, err := db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, base.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		raw := rawDB(t, db, dsn)
		// "aaa" does not read; "abc" reads but its sweep fails (a name no
		// train may have); both sort before checkout.
		for name, state := range map[string]string{
			"aaa": "not json",
			"abc": `{"name":"bad name","cars":[{"id":1,"state":"staging","deploy_id":"x","members":[{"name":"z","state":"in"}]}]}`,
		} {
			if _, err := raw.ExecContext(ctx, "INSERT INTO trains (name, state, created_at, updated_at) VALUES ($1, $2, 0, 0)", name, state); err != nil {
				t.Fatal(err)
			}
		}
		ts, err := db.ListTrains(ctx)
		if err != nil || len(ts) != 2 {
			t.Fatalf("ListTrains with a bad row = %d trains, %v; want the two that read", len(ts), err)
		}
		n, err := db.SweepTrains(ctx, base.Add(4*time.Hour), time.Hour, 3)
		if err == nil || n != 1 {
			t.Errorf("SweepTrains = %d, %v; want checkout's 1 change and abc's error", n, err)
		}
		if tr, _ := db.Train(ctx, "checkout"); tr.Cars[0].State != train.Verifying {
			t.Errorf("checkout after the sweep: %s, want verifying", tr.Cars[0].State)
		}
	})
}

// TestTrainSweepNoPingPong: two idle members of a one-car train, whom
// nobody waits on, stay put sweep after sweep, with no messages.
func TestTrainSweepNoPingPong(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		db.EnableNotifications()
		act(t, db, "checkout", base, joinAs("alice", base))
		act(t, db, "checkout", base, joinAs("bob", base))
		claimAll(t, db)
		for i := 1; i <= 6; i++ {
			if n, err := db.SweepTrains(t.Context(), base.Add(time.Duration(i)*31*time.Minute), 30*time.Minute, 3); err != nil || n != 0 {
				t.Fatalf("sweep %d: %d changes, %v; want none", i, n, err)
			}
		}
		if tr, _ := db.Train(t.Context(), "checkout"); len(tr.Cars) != 1 || tr.LastCar != 1 {
			t.Errorf("after the sweeps: %d cars, last car %d; want car 1 alone", len(tr.Cars), tr.LastCar)
		}
		if evs := claimAll(t, db); len(evs) != 0 {
			t.Errorf("sweeps queued %d messages, want none", len(evs))
		}
	})
}
