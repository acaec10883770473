package store_test

import (
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

// TestDORA: four deploys of checkout in a day, one of search; the keys of
// checkout count what they should and nothing of search.
func TestDORA(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		day := base.Add(-24 * time.Hour)
		mk := func(service, version string, start, lead, took time.Duration, status gohere.Status) gohere.Deploy {
			d := deploy(service, "prod", version, day.Add(start))
			if lead > 0 {
				d.CommitTime = d.StartedAt.Add(-lead)
			}
			d.Status, d.FinishedAt = status, d.StartedAt.Add(took)
			return create(t, db, d)
		}
		mk("checkout", "v1", time.Hour, 30*time.Minute, 10*time.Minute, gohere.StatusSucceeded)
		mk("checkout", "v2", 2*time.Hour, 90*time.Minute, 10*time.Minute, gohere.StatusRolledBack)
		v3 := mk("checkout", "v3", 3*time.Hour, 0, 10*time.Minute, gohere.StatusSucceeded)
		mk("checkout", "v4", 4*time.Hour, 60*time.Minute, 10*time.Minute, gohere.StatusSucceeded)
		mk("search", "v9", time.Hour, time.Minute, time.Minute, gohere.StatusFailed)
		// A critical alert 5 min after v3 finished, resolved 20 min later:
		// v3 failed too, and it took 20 min to restore.
		alert := firing("fp1", "checkout", v3.FinishedAt.Add(5*time.Minute))
		alert.Status, alert.EndsAt = gohere.AlertResolved, alert.StartsAt.Add(20*time.Minute)
		if got := record(t, db, alert); len(got[0].Correlations) == 0 || got[0].Correlations[0].DeployID != v3.ID {
			t.Fatalf("the alert did not correlate with v3: %+v", got[0])
		}

		k, err := db.DORA(ctx, "checkout", "", day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if k.Deployments != 4 || k.DeploysPerDay != 4 {
			t.Errorf("deployments %d, per day %v; want 4, 4", k.Deployments, k.DeploysPerDay)
		}
		if k.LeadTimeSeconds == nil || *k.LeadTimeSeconds != 3600 || k.LeadTimeSamples != 3 {
			t.Errorf("lead time %v over %d; want the median of 30, 90, 60 min = 3600 s over 3", k.LeadTimeSeconds, k.LeadTimeSamples)
		}
		if k.ChangeFailureRate == nil || *k.ChangeFailureRate != 0.5 || k.FailedChanges != 2 || k.FinishedChanges != 4 {
			t.Errorf("change failure rate %v (%d/%d); want 0.5 (v2 rolled back, v3 alerted)", k.ChangeFailureRate, k.FailedChanges, k.FinishedChanges)
		}
		if k.TimeToRestoreSeconds == nil || *k.TimeToRestoreSeconds != 1200 || k.Restores != 1 {
			t.Errorf("time to restore %v over %d; want 1200 s over 1", k.TimeToRestoreSeconds, k.Restores)
		}

		empty, err := db.DORA(ctx, "checkout", "", day.Add(-48*time.Hour), day.Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if empty.Deployments != 0 || empty.LeadTimeSeconds != nil || empty.ChangeFailureRate != nil || empty.TimeToRestoreSeconds != nil {
			t.Errorf("a window without deploys: %+v; want zero deployments and unknown keys", empty)
		}
		all, err := db.DORA(ctx, "", "prod", day, day.Add(24*time.Hour))
		if err != nil || all.Deployments != 5 || all.FailedChanges != 3 {
			t.Errorf("all services: %+v, %v; want 5 deployments, 3 failed", all, err)
		}
		_, err = db.DORA(ctx, "", "", day, day)
		wantKind(t, "an empty window", err, gohere.Invalid)
	})
}
