package train_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/train"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func person(name string) train.Actor { return train.Actor{Name: name, Human: true} }

// shape is a train in brief: "car1:state[a:in b:waiting] car2:…", with
// "stopped" first when it is.
func shape(t train.Train) string {
	var parts []string
	if t.Stopped {
		parts = append(parts, "stopped")
	}
	for _, c := range t.Cars {
		var ms []string
		for _, m := range c.Members {
			ms = append(ms, m.Name+":"+string(m.State))
		}
		parts = append(parts, fmt.Sprintf("car%d:%s[%s]", c.ID, c.State, strings.Join(ms, " ")))
	}
	return strings.Join(parts, " ")
}

// step is one action of a script, and what it must leave.
type step struct {
	do      func(tr *train.Train, at time.Time) (train.Event, error)
	want    string          // shape after it
	kind    train.EventKind // event kind ("" with wantErr)
	moved   bool
	wantErr gohere.Kind // 0: no error
}

func join(n string) func(*train.Train, time.Time) (train.Event, error) {
	return func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Join(person(n), 3, at) }
}
func in(n string) func(*train.Train, time.Time) (train.Event, error) {
	return func(tr *train.Train, at time.Time) (train.Event, error) { return tr.In(person(n), nil, at) }
}
func verified(n string) func(*train.Train, time.Time) (train.Event, error) {
	return func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Verified(person(n), at) }
}
func deploying(by train.Actor, id string) func(*train.Train, time.Time) (train.Event, error) {
	return func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Deploying(by, id, at) }
}
func deployed(id string, s gohere.Status) func(*train.Train, time.Time) (train.Event, error) {
	return func(tr *train.Train, at time.Time) (train.Event, error) {
		ev, ok := tr.Deployed(id, s, at)
		if !ok {
			return ev, gohere.Errorf(gohere.NotFound, "not the head car's deploy")
		}
		return ev, nil
	}
}

func run(t *testing.T, steps []step) train.Train {
	t.Helper()
	tr, err := train.New("checkout")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		before := shape(tr)
		ev, err := s.do(&tr, t0.Add(time.Duration(i)*time.Minute))
		if s.wantErr != 0 {
			if gohere.KindOf(err) != s.wantErr {
				t.Fatalf("step %d: err = %v (%v), want kind %v", i, err, gohere.KindOf(err), s.wantErr)
			}
			if got := shape(tr); got != before {
				t.Fatalf("step %d: a refused action changed the train:\n%s\nwas\n%s", i, got, before)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := shape(tr); got != s.want {
			t.Fatalf("step %d: train = %s\nwant %s", i, got, s.want)
		}
		if ev.Kind != s.kind || ev.Moved != s.moved {
			t.Errorf("step %d: event %s moved=%v, want %s moved=%v", i, ev.Kind, ev.Moved, s.kind, s.moved)
		}
	}
	return tr
}

// TestScriptedDay is the day: seven people join the checkout train
// (three cars), the head car pushes, verifies and deploys, a member of car
// 2 stops the train, a human starts it again.
func TestScriptedDay(t *testing.T) {
	ci := train.Actor{Name: "ci"}
	tr := run(t, []step{
		{do: join("alice"), want: "car1:boarding[alice:waiting]", kind: train.EventJoined},
		{do: join("bob"), want: "car1:boarding[alice:waiting bob:waiting]", kind: train.EventJoined},
		{do: join("carol"), want: "car1:boarding[alice:waiting bob:waiting carol:waiting]", kind: train.EventJoined},
		{do: join("dave"), want: "car1:boarding[alice:waiting bob:waiting carol:waiting] car2:boarding[dave:waiting]", kind: train.EventJoined},
		{do: join("erin"), want: "car1:boarding[alice:waiting bob:waiting carol:waiting] car2:boarding[dave:waiting erin:waiting]", kind: train.EventJoined},
		{do: join("frank"), want: "car1:boarding[alice:waiting bob:waiting carol:waiting] car2:boarding[dave:waiting erin:waiting frank:waiting]", kind: train.EventJoined},
		{do: join("grace"), want: "car1:boarding[alice:waiting bob:waiting carol:waiting] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventJoined},
		{do: join("grace"), wantErr: gohere.Conflict},
		{do: in("dave"), wantErr: gohere.Conflict}, // car 2 is not at the head
		{do: in("alice"), want: "car1:pushing[alice:in bob:waiting carol:waiting] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventIn},
		{do: in("alice"), wantErr: gohere.Conflict},
		{do: deploying(ci, "d1"), wantErr: gohere.Conflict}, // not all in
		{do: in("bob"), want: "car1:pushing[alice:in bob:in carol:waiting] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventIn},
		{do: in("carol"), want: "car1:staging[alice:in bob:in carol:in] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventIn, moved: true},
		{do: verified("bob"), wantErr: gohere.Conflict},                 // not on staging yet
		{do: deploying(person("bob"), "d1"), wantErr: gohere.Forbidden}, // alice leads
		{do: deploying(person("alice"), "d1"), want: "car1:staging[alice:in bob:in carol:in] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventDeploying},
		{do: deployed("d0", gohere.StatusSucceeded), wantErr: gohere.NotFound},
		{do: deployed("d1", gohere.StatusSucceeded), want: "car1:verifying[alice:in bob:in carol:in] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventDeployed, moved: true},
		{do: verified("alice"), want: "car1:verifying[alice:verified bob:in carol:in] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventVerified},
		{do: verified("bob"), want: "car1:verifying[alice:verified bob:verified carol:in] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventVerified},
		{do: verified("carol"), want: "car1:prod[alice:verified bob:verified carol:verified] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventVerified, moved: true},
		{do: deploying(ci, "d2"), want: "car1:prod[alice:verified bob:verified carol:verified] car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventDeploying},
		{do: deployed("d2", gohere.StatusSucceeded), want: "car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventDeployed, moved: true},
		{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Stop(person("erin"), "  ", at) }, wantErr: gohere.Invalid},
		{do: func(tr *train.Train, at time.Time) (train.Event, error) {
			return tr.Stop(person("erin"), "payments is down", at)
		},
			want: "stopped car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting]", kind: train.EventStopped},
		{do: in("dave"), wantErr: gohere.Conflict}, // nothing moves
		{do: join("heidi"), want: "stopped car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting heidi:waiting]", kind: train.EventJoined},
		{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Start(ci, at) }, wantErr: gohere.Forbidden},
		{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Start(person("ivan"), at) },
			want: "car2:boarding[dave:waiting erin:waiting frank:waiting] car3:boarding[grace:waiting heidi:waiting]", kind: train.EventStarted},
		{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Start(person("ivan"), at) }, wantErr: gohere.Conflict},
	})
	if tr.Shipped != 1 || tr.Leader() != "dave" {
		t.Errorf("shipped %d, leader %q; want 1 and dave", tr.Shipped, tr.Leader())
	}
}

func TestLeaveRemoveAndFailedDeploy(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{{
		name: "the last one out of the head car moves it on",
		steps: []step{
			{do: join("a"), want: "car1:boarding[a:waiting]", kind: train.EventJoined},
			{do: join("b"), want: "car1:boarding[a:waiting b:waiting]", kind: train.EventJoined},
			{do: in("a"), want: "car1:pushing[a:in b:waiting]", kind: train.EventIn},
			{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Leave(person("b"), at) },
				want: "car1:staging[a:in]", kind: train.EventLeft, moved: true},
			{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Leave(person("b"), at) }, wantErr: gohere.NotFound},
		},
	}, {
		name: "only the car's leader removes",
		steps: []step{
			{do: join("a"), want: "car1:boarding[a:waiting]", kind: train.EventJoined},
			{do: join("b"), want: "car1:boarding[a:waiting b:waiting]", kind: train.EventJoined},
			{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Remove(person("b"), "a", at) }, wantErr: gohere.Forbidden},
			{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Remove(person("a"), "a", at) }, wantErr: gohere.Invalid},
			{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Remove(person("a"), "b", at) },
				want: "car1:boarding[a:waiting]", kind: train.EventRemoved},
		},
	}, {
		name: "a failed deploy of the head car stops the train",
		steps: []step{
			{do: join("a"), want: "car1:boarding[a:waiting]", kind: train.EventJoined},
			{do: in("a"), want: "car1:staging[a:in]", kind: train.EventIn, moved: true},
			{do: deploying(person("a"), "d1"), want: "car1:staging[a:in]", kind: train.EventDeploying},
			{do: deploying(person("a"), "d2"), wantErr: gohere.Conflict},
			{do: deployed("d1", gohere.StatusHalted), want: "stopped car1:staging[a:in]", kind: train.EventDeployed},
			{do: deploying(person("a"), "d3"), wantErr: gohere.Conflict}, // stopped
		},
	}, {
		name: "a stranger who is no human may not stop",
		steps: []step{
			{do: join("a"), want: "car1:boarding[a:waiting]", kind: train.EventJoined},
			{do: func(tr *train.Train, at time.Time) (train.Event, error) {
				return tr.Stop(train.Actor{Name: "ci"}, "x", at)
			}, wantErr: gohere.Forbidden},
			{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Stop(person("a"), "x", at) }, want: "stopped car1:boarding[a:waiting]", kind: train.EventStopped},
			{do: func(tr *train.Train, at time.Time) (train.Event, error) { return tr.Stop(person("z"), "y", at) }, wantErr: gohere.Conflict},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps) })
	}
}

func TestIdle(t *testing.T) {
	tests := []struct {
		name, want string
		joins      []string
		ins        []string
		carSize    int
		wantOK     bool
	}{
		{name: "alone: nobody waits for them", joins: []string{"a"}, want: "car1:boarding[a:waiting]", carSize: 3},
		{name: "moved to a new car", joins: []string{"a", "b", "c"}, ins: []string{"a", "b"}, carSize: 3, wantOK: true,
			want: "car1:staging[a:in b:in] car2:boarding[c:waiting]"},
		{name: "a new car when the next is full", joins: []string{"a", "b", "c", "d"}, ins: []string{"b"}, carSize: 2, wantOK: true,
			want: "car1:staging[b:in] car3:boarding[a:waiting] car2:boarding[c:waiting d:waiting]"},
		{name: "moved to the next car with room", joins: []string{"a", "b", "c"}, ins: []string{"a"}, carSize: 2, wantOK: true,
			want: "car1:staging[a:in] car2:boarding[c:waiting b:waiting]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := train.New("checkout")
			for _, n := range tt.joins {
				if _, err := tr.Join(person(n), tt.carSize, t0); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range tt.ins {
				if _, err := tr.In(person(n), nil, t0.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			ev, ok := tr.Idle(t0.Add(time.Hour), 30*time.Minute, tt.carSize)
			if ok != tt.wantOK {
				t.Fatalf("Idle ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, shape(tr)); diff != "" {
				t.Errorf("train (-want +got):\n%s", diff)
			}
			if ok && ev.Kind != train.EventIdle {
				t.Errorf("event %s, want idle", ev.Kind)
			}
			if _, again := tr.Idle(t0.Add(time.Hour), 30*time.Minute, tt.carSize); again && tt.wantOK {
				t.Errorf("the moved member was idle again at once")
			}
		})
	}
}

func TestInWithChanges(t *testing.T) {
	tr, _ := train.New("checkout")
	for _, n := range []string{"alice", "bob"} {
		if _, err := tr.Join(person(n), 3, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.In(person("alice"), []gohere.Change{{Commit: ""}}, t0); gohere.KindOf(err) != gohere.Invalid {
		t.Fatalf("a change without a commit: %v, want invalid", err)
	}
	// The author is who says in, whatever the change claims.
	if _, err := tr.In(person("alice"), []gohere.Change{{Commit: "a1", Author: "mallory", Title: "fix tax"}}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.In(person("bob"), []gohere.Change{{Commit: "b2", Title: "retry"}, {Commit: "b3"}}, t0); err != nil {
		t.Fatal(err)
	}
	want := []gohere.Change{{Commit: "a1", Author: "alice", Title: "fix tax"}, {Commit: "b2", Author: "bob", Title: "retry"}, {Commit: "b3", Author: "bob"}}
	var got []gohere.Change
	for _, m := range tr.Cars[0].Members {
		got = append(got, m.Changes...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the car's changes (-want +got):\n%s", diff)
	}
}

// TestStoppedTrainDoesNotMove: a deploy that succeeds while the train is
// stopped does not move the car, which keeps the deploy and moves once a
// human starts the train; a failure of a stopped train keeps who stopped
// it first, and why.
func TestStoppedTrainDoesNotMove(t *testing.T) {
	staged := func(t *testing.T) train.Train {
		t.Helper()
		tr := run(t, []step{
			{do: join("a"), want: "car1:boarding[a:waiting]", kind: train.EventJoined},
			{do: join("b"), want: "car1:boarding[a:waiting b:waiting]", kind: train.EventJoined},
			{do: in("a"), want: "car1:pushing[a:in b:waiting]", kind: train.EventIn},
			{do: in("b"), want: "car1:staging[a:in b:in]", kind: train.EventIn, moved: true},
			{do: deploying(person("a"), "d1"), want: "car1:staging[a:in b:in]", kind: train.EventDeploying},
		})
		if _, err := tr.Stop(person("b"), "payments is down", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	t.Run("a success waits for the start", func(t *testing.T) {
		tr := staged(t)
		if ev, ok := tr.Deployed("d1", gohere.StatusSucceeded, t0.Add(2*time.Hour)); ok {
			t.Fatalf("a stopped train moved: %+v", ev)
		}
		if h, _ := tr.Head(); shape(tr) != "stopped car1:staging[a:in b:in]" || h.DeployID != "d1" {
			t.Fatalf("after a success while stopped: %s, deploy %q; want staging with d1 kept", shape(tr), h.DeployID)
		}
		if _, err := tr.Start(person("ivan"), t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		ev, ok := tr.Deployed("d1", gohere.StatusSucceeded, t0.Add(3*time.Hour))
		if !ok || !ev.Moved || shape(tr) != "car1:verifying[a:in b:in]" {
			t.Fatalf("after the start: ok=%v moved=%v %s; want verifying", ok, ev.Moved, shape(tr))
		}
	})
	t.Run("a failure keeps the first stopper", func(t *testing.T) {
		tr := staged(t)
		ev, ok := tr.Deployed("d1", gohere.StatusFailed, t0.Add(2*time.Hour))
		if !ok {
			t.Fatal("the failure of the car's deploy changed nothing")
		}
		if h, _ := tr.Head(); !tr.Stopped || tr.StoppedBy != "b" || tr.Reason != "payments is down" || h.DeployID != "" || ev.Reason != "payments is down" {
			t.Errorf("after a failure while stopped: stopped=%v by %q: %q, deploy %q, event reason %q; want b's stop kept and the deploy let go",
				tr.Stopped, tr.StoppedBy, tr.Reason, h.DeployID, ev.Reason)
		}
	})
}

// TestIdleNobodyWaits: idle members nobody waits on stay where they are,
// however many idle periods pass: no car 2, 3, 4… and no messages.
func TestIdleNobodyWaits(t *testing.T) {
	tests := []struct {
		name, want string
		carSize    int
		joins      map[string]time.Duration // after t0
	}{
		{name: "two idle in a one-car train", carSize: 3, joins: map[string]time.Duration{"a": 0, "b": 0},
			want: "car1:boarding[a:waiting b:waiting]"},
		{name: "everyone idle, later car too", carSize: 2, joins: map[string]time.Duration{"a": 0, "b": 0, "c": 0},
			want: "car1:boarding[a:waiting b:waiting] car2:boarding[c:waiting]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := train.New("checkout")
			for _, n := range []string{"a", "b", "c"} {
				if d, ok := tt.joins[n]; ok {
					if _, err := tr.Join(person(n), tt.carSize, t0.Add(d)); err != nil {
						t.Fatal(err)
					}
				}
			}
			for k := 1; k <= 10; k++ {
				now := t0.Add(time.Duration(k) * 31 * time.Minute)
				if tr.Due(now, 30*time.Minute) {
					t.Errorf("sweep %d: due, want not", k)
				}
				if ev, ok := tr.Idle(now, 30*time.Minute, tt.carSize); ok {
					t.Fatalf("sweep %d: moved %s (%s): nobody waits on them", k, ev.Member, ev.Reason)
				}
			}
			if got := shape(tr); got != tt.want {
				t.Errorf("train = %s, want %s", got, tt.want)
			}
		})
	}
	// Someone active in a later car waits on them: they move, once.
	tr, _ := train.New("checkout")
	for _, j := range []struct {
		n  string
		at time.Duration
	}{{"a", 0}, {"b", 0}, {"c", 50 * time.Minute}} {
		if _, err := tr.Join(person(j.n), 2, t0.Add(j.at)); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Hour)
	moves := 0
	for range 10 {
		if _, ok := tr.Idle(now, 30*time.Minute, 2); !ok {
			break
		}
		moves++
	}
	if got, want := shape(tr), "car2:boarding[c:waiting a:waiting] car3:boarding[b:waiting]"; moves != 2 || got != want {
		t.Errorf("%d moves, train = %s; want 2 and %s", moves, got, want)
	}
}
