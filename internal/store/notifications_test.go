package store_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

// keysOf lists the deploy's notification keys, oldest first.
func keysOf(t *testing.T, db *store.DB, deployID string) []string {
	t.Helper()
	ns, err := db.ListNotifications(t.Context(), deployID)
	if err != nil {
		t.Fatalf("ListNotifications: %v", err)
	}
	var keys []string
	for _, n := range ns {
		keys = append(keys, n.Key)
	}
	return keys
}

// TestNotificationsTellEachStateChangeOnce walks a canary through every
// state change and checks that each queues exactly one notification, in
// order, with the facts of its moment.
func TestNotificationsTellEachStateChangeOnce(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		quiet := create(t, db, deploy("checkout", "prod", "v0", base.Add(-time.Hour)))
		if keys := keysOf(t, db, quiet.ID); len(keys) != 0 {
			t.Fatalf("before EnableNotifications a deploy queued %v", keys)
		}
		db.EnableNotifications()
		backfill := deploy("checkout", "prod", "v0.9", base.Add(-2*time.Hour))
		backfill.Status, backfill.FinishedAt = gohere.StatusSucceeded, base.Add(-110*time.Minute)
		if keys := keysOf(t, db, create(t, db, backfill).ID); len(keys) != 0 {
			t.Errorf("a deploy recorded finished queued %v; want nothing", keys)
		}

		d := create(t, db, deploy("checkout", "prod", "v1", base))
		a := newAnalysis(t, db, d, base)
		for seq, at := range []time.Time{base.Add(5 * time.Minute), base.Add(10 * time.Minute)} {
			c, found := claim(t, db, "r1", at)
			if !found {
				t.Fatal("nothing to claim")
			}
			if err := db.RecordInterval(ctx, c.Lease, interval(c, seq+1, at, gohere.VerdictFail),
				store.Progress{State: store.AnalysisRunning, NextDueAt: at.Add(5 * time.Minute)}); err != nil {
				t.Fatalf("RecordInterval %d: %v", seq+1, err)
			}
		}
		finishRun(t, db, a)
		halt := decision(gohere.DecisionHalt, "bob", "p99 <up> 30 %", base.Add(40*time.Minute))
		if _, err := db.Decide(ctx, a.ID, halt); err != nil {
			t.Fatalf("halt: %v", err)
		}
		// The pipeline agreeing with the halt is nothing new; rolling back is.
		for _, s := range []gohere.Status{gohere.StatusHalted, gohere.StatusRolledBack} {
			if _, err := db.FinishDeploy(ctx, d.ID, s, base.Add(45*time.Minute)); err != nil {
				t.Fatalf("finish %s: %v", s, err)
			}
		}
		want := []string{"started", "failing/" + a.ID, "verdict/" + a.ID, "decided/" + a.ID + "/halt", "finished/rolled_back"}
		if diff := cmp.Diff(want, keysOf(t, db, d.ID)); diff != "" {
			t.Fatalf("notification keys (-want +got):\n%s", diff)
		}
		ns, err := db.ListNotifications(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f := ns[1].Facts; f.Seq != 1 || f.Verdict != gohere.VerdictFail {
			t.Errorf("failing facts %+v; want the first interval, Fail", f)
		}
		if f := ns[2].Facts; f.State != store.AnalysisAwaitingDecision || f.Seq != 3 {
			t.Errorf("verdict facts %+v; want awaiting_decision after interval 3", f)
		}
		if f := ns[3].Facts; f.Decision == nil || f.Decision.Actor != "bob" || f.Decision.Reason != halt.Reason {
			t.Errorf("decided facts %+v; want bob's halt", f)
		}
		if f := ns[4].Facts; f.Status != gohere.StatusRolledBack || !ns[4].HappenedAt.Equal(base.Add(45*time.Minute)) {
			t.Errorf("finished facts %+v at %v; want rolled_back at +45m", f, ns[4].HappenedAt)
		}
	})
}

// TestClaimNotificationsInOrderPerDeploy: a deploy's later notification
// waits until its earlier one is done, whatever happens to the earlier one
// (leased, retried); other deploys pass.
func TestClaimNotificationsInOrderPerDeploy(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		db.EnableNotifications()
		d1 := create(t, db, deploy("checkout", "prod", "v1", base))
		if _, err := db.FinishDeploy(ctx, d1.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		d2 := create(t, db, deploy("search", "prod", "v1", base))
		claimKeys := func(now time.Time) []string {
			t.Helper()
			ns, err := db.ClaimNotifications(ctx, now, time.Minute, 10)
			if err != nil {
				t.Fatalf("ClaimNotifications: %v", err)
			}
			var keys []string
			for _, n := range ns {
				keys = append(keys, n.DeployID[len(n.DeployID)-4:]+":"+n.Key)
			}
			return keys
		}
		now := time.Now()
		short := func(d gohere.Deploy) string { return d.ID[len(d.ID)-4:] }
		if diff := cmp.Diff([]string{short(d1) + ":started", short(d2) + ":started"}, claimKeys(now)); diff != "" {
			t.Fatalf("first claim (-want +got):\n%s", diff)
		}
		if got := claimKeys(now); len(got) != 0 {
			t.Fatalf("leased notifications claimed again: %v", got)
		}
		ns, err := db.ListNotifications(ctx, d1.ID)
		if err != nil {
			t.Fatal(err)
		}
		started, finished := ns[0], ns[1]
		if err := db.RetryNotification(ctx, started.ID, now.Add(-time.Second), "HTTP 503"); err != nil {
			t.Fatal(err)
		}
		if err := db.MarkNotified(ctx, started.ID, "hooks.example#abc123"); err != nil {
			t.Fatal(err)
		}
		// Retried and due again: the same (earlier) one comes back, with
		// what was already delivered; the later one still waits.
		again, err := db.ClaimNotifications(ctx, now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 1 || again[0].ID != started.ID || again[0].Attempts != 1 || !cmp.Equal(again[0].Delivered, []string{"hooks.example#abc123"}) {
			t.Fatalf("after a retry claimed %+v; want started again, 1 attempt, delivered to one", again)
		}
		if err := db.CompleteNotification(ctx, started.ID, now); err != nil {
			t.Fatal(err)
		}
		if err := db.CompleteNotification(ctx, started.ID, now); err != nil {
			t.Errorf("completing twice: %v; want nil (another worker may finish it)", err)
		}
		if diff := cmp.Diff([]string{short(d1) + ":finished/succeeded"}, claimKeys(now)); diff != "" {
			t.Fatalf("after completing started (-want +got):\n%s", diff)
		}
		wantKind(t, "retry of a done notification", db.RetryNotification(ctx, started.ID, now, "x"), gohere.NotFound)
		wantKind(t, "destination with a space", db.MarkNotified(ctx, finished.ID, "a b"), gohere.Invalid)
		if n, _, err := db.NotificationStats(ctx, now); err != nil || n != 2 {
			t.Errorf("NotificationStats = %d, %v; want 2 pending (d1 finished, d2 started)", n, err)
		}
	})
}

// TestConcurrentClaimersShareNoDeploy: replicas claiming at once never get
// two notifications of one deploy, nor one twice.
func TestConcurrentClaimersShareNoDeploy(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, dsn string) {
		ctx := t.Context()
		db.EnableNotifications()
		const deploys = 20
		for i := range deploys {
			d := create(t, db, deploy("svc", "prod", "v"+string(rune('a'+i)), base))
			if _, err := db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, base.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		other := open(t, dsn)
		type result struct {
			ns  []store.Notification
			err error
		}
		results := make(chan result, 2)
		for _, c := range []*store.DB{db, other} {
			go func() {
				ns, err := c.ClaimNotifications(ctx, time.Now(), time.Minute, 15)
				results <- result{ns, err}
			}()
		}
		seen := map[string]int{}
		for range 2 {
			r := <-results
			if r.err != nil {
				t.Fatalf("ClaimNotifications: %v", r.err)
			}
			for _, n := range r.ns {
				seen[n.DeployID]++
				if n.Kind != store.NotifyStarted {
					t.Errorf("claimed %s of deploy %s before its started was done", n.Key, n.DeployID)
				}
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("deploy %s claimed %d times", id, n)
			}
		}
		if len(seen) != deploys {
			t.Errorf("claimed %d deploys, want all %d", len(seen), deploys)
		}
	})
}
