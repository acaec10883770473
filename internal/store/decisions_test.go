package store_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

func decision(kind gohere.DecisionKind, actor, reason string, at time.Time) gohere.Decision {
	return gohere.Decision{Kind: kind, Actor: actor, Reason: reason, Source: gohere.SourceAPI, DecidedAt: at}
}

// finishRun judges the analysis' intervals up to and including the last,
// leaving it awaiting a decision.
func finishRun(t *testing.T, db *store.DB, a store.Analysis) {
	t.Helper()
	c, found := claim(t, db, "r1", a.EndAt)
	if !found {
		t.Fatal("nothing to claim")
	}
	if err := db.RecordInterval(t.Context(), c.Lease, interval(c, c.NextSeq, a.EndAt, gohere.VerdictFail),
		store.Progress{State: store.AnalysisAwaitingDecision}); err != nil {
		t.Fatalf("RecordInterval: %v", err)
	}
}

func TestDecide(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		a := newAnalysis(t, db, d, base)
		at := base.Add(40 * time.Minute)

		_, err := db.Decide(ctx, a.ID, decision(gohere.DecisionApprove, "alice", "", at))
		wantKind(t, "approve while judging", err, gohere.Conflict)
		_, err = db.Decide(ctx, a.ID, decision(gohere.DecisionHalt, "alice", "", at))
		wantKind(t, "halt without a reason", err, gohere.Invalid)
		_, err = db.Decide(ctx, "no-such", decision(gohere.DecisionHalt, "alice", "why", at))
		wantKind(t, "unknown analysis", err, gohere.NotFound)

		finishRun(t, db, a)
		before := pending(t, db)
		got, err := db.Decide(ctx, a.ID, decision(gohere.DecisionApprove, "alice", "the p99 shift is a known cache warm-up", at))
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		if got.State != store.AnalysisApproved || got.Decision == nil || got.Decision.Actor != "alice" || len(got.Decisions) != 1 {
			t.Fatalf("after approve: state %s, decision %+v, trail %d; want approved by alice, 1", got.State, got.Decision, len(got.Decisions))
		}
		if pending(t, db) != before+1 {
			t.Errorf("approve queued %d annotation updates, want 1", pending(t, db)-before)
		}
		dep, err := db.GetDeploy(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if dep.Stage != gohere.StageFull || !dep.Running() || dep.Judgement == nil || dep.Judgement.Decision == nil ||
			dep.Judgement.Decision.Kind != gohere.DecisionApprove || dep.Judgement.AnalysisID != a.ID || dep.Judgement.Verdict != gohere.VerdictFail {
			t.Errorf("deploy after approve: stage %s, status %s, judgement %+v; want full, running, approved Fail of %s",
				dep.Stage, dep.Status, dep.Judgement, a.ID)
		}
		_, err = db.Decide(ctx, a.ID, decision(gohere.DecisionApprove, "bob", "", at))
		wantKind(t, "second approve", err, gohere.Conflict)

		// A human may still stop a bad promotion.
		got, err = db.Decide(ctx, a.ID, decision(gohere.DecisionHalt, "bob", "errors climbing after promotion", at.Add(time.Minute)))
		if err != nil {
			t.Fatalf("halt after approve: %v", err)
		}
		if got.State != store.AnalysisHalted || got.Decision.Kind != gohere.DecisionHalt || len(got.Decisions) != 2 ||
			got.Decisions[0].Kind != gohere.DecisionApprove || got.Decisions[1].Actor != "bob" {
			t.Fatalf("after halt: state %s, trail %+v; want halted, approve then halt by bob", got.State, got.Decisions)
		}
		dep, err = db.GetDeploy(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if dep.Status != gohere.StatusHalted || !dep.FinishedAt.Equal(at.Add(time.Minute)) {
			t.Errorf("deploy after halt: %s finished %v; want halted at %v", dep.Status, dep.FinishedAt, at.Add(time.Minute))
		}
		_, err = db.Decide(ctx, a.ID, decision(gohere.DecisionApprove, "alice", "", at))
		wantKind(t, "approve after halt", err, gohere.Conflict)

		// The pipeline reports how the halted rollout ended; it cannot
		// turn it into a success.
		_, err = db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, at.Add(2*time.Minute))
		wantKind(t, "succeed a halted deploy", err, gohere.Conflict)
		if dep, err = db.FinishDeploy(ctx, d.ID, gohere.StatusRolledBack, at.Add(2*time.Minute)); err != nil ||
			dep.Status != gohere.StatusRolledBack || !dep.FinishedAt.Equal(at.Add(time.Minute)) {
			t.Errorf("finish the halted deploy as rolled_back = %s at %v, %v; want rolled_back at the halt", dep.Status, dep.FinishedAt, err)
		}

		// A finished deploy has nothing left to decide.
		d2 := create(t, db, deploy("checkout", "prod", "v2", base))
		a2 := newAnalysis(t, db, d2, base)
		finishRun(t, db, a2)
		if _, err := db.FinishDeploy(ctx, d2.ID, gohere.StatusSucceeded, at); err != nil {
			t.Fatal(err)
		}
		_, err = db.Decide(ctx, a2.ID, decision(gohere.DecisionHalt, "alice", "too late", at))
		wantKind(t, "decide a finished deploy", err, gohere.Conflict)

		list, err := db.ListDeploys(ctx, gohere.DeployFilter{Service: "checkout"})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			if l.Judgement == nil {
				t.Errorf("deploy %s listed without its judgement", l.Version)
			}
		}
	})
}

func TestHaltStopsTheRunner(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		a := newAnalysis(t, db, d, base)
		c, found := claim(t, db, "r1", a.NextDueAt)
		if !found {
			t.Fatal("nothing to claim")
		}
		// Halted while r1 judges its interval: r1 cannot record it, and no
		// runner claims the analysis again.
		if _, err := db.Decide(ctx, a.ID, decision(gohere.DecisionHalt, "bob", "wrong build", a.NextDueAt)); err != nil {
			t.Fatalf("halt: %v", err)
		}
		err := db.RecordInterval(ctx, c.Lease, interval(c, 1, a.NextDueAt, gohere.VerdictPass),
			store.Progress{State: store.AnalysisRunning, NextDueAt: a.NextDueAt.Add(5 * time.Minute)})
		wantKind(t, "record after halt", err, gohere.Conflict)
		if _, found := claim(t, db, "r2", a.EndAt.Add(time.Hour)); found {
			t.Error("a halted analysis was claimed")
		}
		got, err := db.GetAnalysis(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.AnalysisHalted || len(got.Intervals) != 0 || !got.NextDueAt.IsZero() {
			t.Errorf("after halt: state %s, %d intervals, due %v; want halted, none, nothing due", got.State, len(got.Intervals), got.NextDueAt)
		}
	})
}

func TestAutoDecisionOfAFinishedDeploy(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		a := newAnalysis(t, db, d, base)
		if _, err := db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		c, _ := claim(t, db, "r1", a.EndAt)
		auto := &gohere.Decision{Kind: gohere.DecisionApprove, Actor: "gohere", Source: gohere.SourceAuto, DecidedAt: a.EndAt}
		if err := db.RecordInterval(ctx, c.Lease, interval(c, 1, a.EndAt, gohere.VerdictPass),
			store.Progress{State: store.AnalysisApproved, Decision: auto}); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetAnalysis(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.AnalysisAwaitingDecision || got.Decision != nil {
			t.Errorf("auto_promote of a finished deploy: state %s, decision %+v; want undecided", got.State, got.Decision)
		}
	})
}

// TestDecisionsAreAppendOnly: no statement of the store changes or removes
// a decision, and the database refuses one that tries.
func TestDecisionsAreAppendOnly(t *testing.T) {
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	changes := regexp.MustCompile(`(?is)(UPDATE\s+decisions|DELETE\s+FROM\s+decisions|INSERT\s+OR\s+REPLACE\s+INTO\s+decisions|INTO\s+decisions[^;]*ON\s+CONFLICT)`)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if m := changes.Find(src); m != nil {
			t.Errorf("%s changes the decision trail: %q", f.Name(), m)
		}
	}
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		a := newAnalysis(t, db, d, base)
		if _, err := db.Decide(t.Context(), a.ID, decision(gohere.DecisionHalt, "bob", "stop", base)); err != nil {
			t.Fatal(err)
		}
		raw := rawDB(t, db, dsn)
		for _, q := range []string{"UPDATE decisions SET actor = 'mallory'", "DELETE FROM decisions"} {
			if _, err := raw.ExecContext(t.Context(), q); err == nil {
				t.Errorf("%s: accepted", q)
			}
		}
		got, err := db.GetAnalysis(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Decisions) != 1 || got.Decisions[0].Actor != "bob" {
			t.Errorf("trail after tampering: %+v", got.Decisions)
		}
	})
}

func TestEnqueueRunning(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		running := create(t, db, deploy("checkout", "prod", "v1", base))
		done := create(t, db, deploy("checkout", "prod", "v2", base))
		if _, err := db.FinishDeploy(ctx, done.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// Deliver everything: both have annotations, nothing is queued.
		es, err := db.ClaimOutbox(ctx, time.Now(), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if err := db.CompleteOutbox(ctx, e.ID, e.DeployID, 7); err != nil {
				t.Fatal(err)
			}
		}
		for i, want := range []int{1, 0} { // the second call finds it queued already
			n, err := db.EnqueueRunning(ctx, time.Now())
			if err != nil || n != want {
				t.Fatalf("EnqueueRunning #%d = %d, %v; want %d", i+1, n, err, want)
			}
		}
		es, err = db.ClaimOutbox(ctx, time.Now(), time.Minute, 10)
		if err != nil || len(es) != 1 || es[0].DeployID != running.ID {
			t.Fatalf("queued %+v, %v; want the running deploy only", es, err)
		}
	})
}
