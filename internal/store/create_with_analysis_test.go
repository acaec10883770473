package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

// startingAnalysis is the analysis a deploy of d's service starts with, as
// analysis.Prepare makes it: no deploy id yet.
func startingAnalysis(d gohere.Deploy) store.Analysis {
	return store.Analysis{Config: canaryConfig, Service: d.Service, Env: d.Env,
		BaselineVersion: d.BaselineVersion, CanaryVersion: d.Version,
		StartAt: d.StartedAt, EndAt: d.StartedAt.Add(30 * time.Minute), CreatedAt: d.StartedAt}
}

func TestCreateDeployWithAnalysis(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		d := deploy("checkout", "prod", "v2", base)
		d.BaselineVersion = "v1"

		got, created, err := db.CreateDeployWithAnalysis(ctx, d, "", startingAnalysis(d))
		if err != nil || !created {
			t.Fatalf("CreateDeployWithAnalysis: created %v, %v", created, err)
		}
		j := got.Judgement
		if got.ID == "" || j == nil || j.AnalysisID == "" || j.State != string(store.AnalysisPending) {
			t.Fatalf("deploy %+v judgement %+v, want an id and a pending analysis", got, j)
		}
		a, err := db.GetAnalysis(ctx, j.AnalysisID)
		if err != nil || a.DeployID != got.ID || a.Config != canaryConfig || !a.NextDueAt.Equal(base) {
			t.Errorf("GetAnalysis: %+v, %v", a, err)
		}
		if read, err := db.GetDeploy(ctx, got.ID); err != nil || read.Judgement == nil || *read.Judgement != *j {
			t.Errorf("GetDeploy judgement %+v (%v), want %+v", read.Judgement, err, j)
		}

		t.Run("replay", func(t *testing.T) {
			d := deploy("checkout", "prod", "v3", base)
			d.BaselineVersion = "v2"
			first, _, err := db.CreateDeployWithAnalysis(ctx, d, "job-1", startingAnalysis(d))
			if err != nil {
				t.Fatal(err)
			}
			// Replayed together: one deploy, one analysis.
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					again, created, err := db.CreateDeployWithAnalysis(ctx, d, "job-1", startingAnalysis(d))
					if err != nil || created || again.ID != first.ID || again.Judgement == nil || again.Judgement.AnalysisID != first.Judgement.AnalysisID {
						t.Errorf("replay: %+v created %v, %v; want deploy %s with analysis %s", again, created, err, first.ID, first.Judgement.AnalysisID)
					}
				})
			}
			wg.Wait()
			if as, err := db.ListAnalyses(ctx, first.ID); err != nil || len(as) != 1 {
				t.Errorf("analyses %v (%v), want one", as, err)
			}
		})

		t.Run("replay of a deploy without analysis", func(t *testing.T) {
			d := deploy("search", "prod", "v2", base)
			d.BaselineVersion = "v1"
			first, _, err := db.CreateDeploy(ctx, d, "job-2")
			if err != nil {
				t.Fatal(err)
			}
			again, created, err := db.CreateDeployWithAnalysis(ctx, d, "job-2", startingAnalysis(d))
			if err != nil || created || again.ID != first.ID || again.Judgement != nil {
				t.Errorf("replay: %+v created %v, %v; want the first deploy, without analysis", again, created, err)
			}
			if as, err := db.ListAnalyses(ctx, first.ID); err != nil || len(as) != 0 {
				t.Errorf("analyses %v (%v), want none", as, err)
			}
		})

		t.Run("all or nothing", func(t *testing.T) {
			d := deploy("billing", "prod", "v2", base)
			d.BaselineVersion = "v1"
			taken := startingAnalysis(d)
			taken.ID = j.AnalysisID // the insert of the analysis fails
			_, _, err := db.CreateDeployWithAnalysis(ctx, d, "job-3", taken)
			wantKind(t, "analysis id taken", err, gohere.Conflict)

			other := startingAnalysis(d)
			other.CanaryVersion = "v9"
			_, _, err = db.CreateDeployWithAnalysis(ctx, d, "", other)
			wantKind(t, "analysis of another version", err, gohere.Invalid)

			empty := startingAnalysis(d)
			empty.Config = ""
			_, _, err = db.CreateDeployWithAnalysis(ctx, d, "", empty)
			wantKind(t, "empty config", err, gohere.Invalid)

			if ds, err := db.ListDeploys(ctx, gohere.DeployFilter{Service: "billing"}); err != nil || len(ds) != 0 {
				t.Errorf("deploys %v (%v), want none recorded", ds, err)
			}
			// The key was not used up by the failed attempt.
			if _, created, err := db.CreateDeployWithAnalysis(ctx, d, "job-3", startingAnalysis(d)); err != nil || !created {
				t.Errorf("retry: created %v, %v", created, err)
			}
		})
	})
}
