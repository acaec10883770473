package store_test

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/pgtest"
	"github.com/gohere/gohere/internal/store"
	"github.com/pressly/goose/v3"
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

// TestDORARollups: over deploys spread across a week (finished, running,
// halted then rolled back, backfilled finished, with and without a commit
// time), the keys of windows cut anywhere, whole days or not, are those
// counted from the deploys themselves: the daily rollups and the partial
// days add up exactly, and the histogram's median is within 1.1 %.
func TestDORARollups(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		rng := rand.New(rand.NewPCG(7, 11))
		day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		var all []gohere.Deploy
		for i := range 300 {
			d := deploy([]string{"checkout", "search"}[i%2], []string{"prod", "dev"}[i/2%2], fmt.Sprintf("v%d", i),
				day0.Add(time.Duration(rng.Int64N(int64(7*24*time.Hour)))))
			if i%3 > 0 {
				d.CommitTime = d.StartedAt.Add(-time.Duration(rng.Int64N(int64(48 * time.Hour))))
			}
			if i%5 == 0 { // recorded already finished
				d.Status, d.FinishedAt = gohere.StatusSucceeded, d.StartedAt.Add(time.Duration(rng.Int64N(int64(30*time.Hour))))
			}
			d = create(t, db, d)
			switch at := d.StartedAt.Add(time.Duration(rng.Int64N(int64(30 * time.Hour)))); {
			case i%5 == 0:
			case i%7 == 0: // halted by a human, then rolled back by the pipeline
				a := newAnalysis(t, db, d, d.StartedAt)
				if _, err := db.Decide(ctx, a.ID, decision(gohere.DecisionHalt, "alice", "errors", at)); err != nil {
					t.Fatal(err)
				}
				var err error
				if d, err = db.FinishDeploy(ctx, d.ID, gohere.StatusRolledBack, at.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			case i%4 != 1:
				var err error
				if d, err = db.FinishDeploy(ctx, d.ID, []gohere.Status{gohere.StatusSucceeded, gohere.StatusFailed}[i%2], at); err != nil {
					t.Fatal(err)
				}
			}
			all = append(all, d)
		}
		for range 40 {
			since := day0.Add(-24*time.Hour + time.Duration(rng.Int64N(int64(9*24*time.Hour))))
			until := since.Add(time.Minute + time.Duration(rng.Int64N(int64(5*24*time.Hour))))
			if rng.IntN(3) == 0 { // whole days only
				since, until = since.Truncate(24*time.Hour), until.Truncate(24*time.Hour).Add(24*time.Hour)
			}
			service, env := []string{"", "checkout"}[rng.IntN(2)], []string{"", "prod"}[rng.IntN(2)]
			want := countDORA(all, service, env, since, until)
			got, err := db.DORA(ctx, service, env, since, until)
			if err != nil {
				t.Fatal(err)
			}
			if got.Deployments != want.Deployments || got.FinishedChanges != want.FinishedChanges ||
				got.FailedChanges != want.FailedChanges || got.LeadTimeSamples != want.LeadTimeSamples ||
				!sameSeconds(got.LeadTimeSeconds, want.LeadTimeSeconds, 0) {
				t.Fatalf("DORA(%q, %q, %s, %s):\n got %s\nwant %s", service, env, since, until, keys(got), keys(want))
			}
		}

		store.SetExactLeadSamples(t, 10)
		since, until := day0.Add(-time.Hour), day0.Add(7*24*time.Hour+time.Hour)
		want := countDORA(all, "", "", since, until)
		got, err := db.DORA(ctx, "", "", since, until)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LeadTimeApproximate || got.LeadTimeSamples != want.LeadTimeSamples || !sameSeconds(got.LeadTimeSeconds, want.LeadTimeSeconds, 0.011) {
			t.Errorf("from the histograms: lead time %v (approximate %v) over %d; want within 1.1 %% of %v over %d",
				*got.LeadTimeSeconds, got.LeadTimeApproximate, got.LeadTimeSamples, *want.LeadTimeSeconds, want.LeadTimeSamples)
		}
	})
}

// countDORA is what TestDORARollups expects: the keys (but the alert ones)
// counted from the deploys.
func countDORA(ds []gohere.Deploy, service, env string, since, until time.Time) store.DORA {
	var k store.DORA
	var leads []float64
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(since) && t.Before(until) }
	for _, d := range ds {
		if (service != "" && d.Service != service) || (env != "" && d.Env != env) {
			continue
		}
		if in(d.StartedAt) {
			k.Deployments++
			if !d.CommitTime.IsZero() {
				leads = append(leads, d.StartedAt.Sub(d.CommitTime).Seconds())
			}
		}
		if in(d.FinishedAt) {
			k.FinishedChanges++
			if d.Status != gohere.StatusSucceeded {
				k.FailedChanges++
			}
		}
	}
	k.LeadTimeSamples = len(leads)
	if len(leads) > 0 {
		slices.Sort(leads)
		m := leads[len(leads)/2]
		if len(leads)%2 == 0 {
			m = (leads[len(leads)/2-1] + m) / 2
		}
		k.LeadTimeSeconds = &m
	}
	return k
}

func keys(k store.DORA) string {
	lead := "none"
	if k.LeadTimeSeconds != nil {
		lead = fmt.Sprint(*k.LeadTimeSeconds)
	}
	return fmt.Sprintf("%d deployments, %d/%d failed, lead time %s over %d", k.Deployments, k.FailedChanges, k.FinishedChanges, lead, k.LeadTimeSamples)
}

func sameSeconds(a, b *float64, rel float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) <= rel**b+1e-6
}

// TestDORABackfill: a database of deploys recorded before the rollups
// existed gets them filled by the migration, so the keys do not change.
func TestDORABackfill(t *testing.T) {
	engines(t, func(t *testing.T, _ *store.DB, dsn string) {
		// engines migrated dsn already: start over in a database at step 7.
		driver, dialect, dir := "sqlite", goose.DialectSQLite3, "sqlite"
		if strings.HasPrefix(dsn, "postgres") {
			driver, dialect, dir = "pgx", goose.DialectPostgres, "postgres"
			dsn = pgtest.Start(t)
		} else {
			dsn = filepath.Join(t.TempDir(), "old.db")
		}
		raw, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		p, err := goose.NewProvider(dialect, raw, os.DirFS(filepath.Join("migrations", dir)), goose.WithDisableGlobalRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(t.Context(), 7); err != nil {
			t.Fatal(err)
		}
		day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
		const hour = int64(time.Hour / time.Microsecond)
		for i, status := range []string{"succeeded", "failed", "running", "halted"} {
			start := day0 + int64(i)*20*hour
			var finished any
			if status != "running" {
				finished = start + hour
			}
			if _, err := raw.ExecContext(t.Context(), `INSERT INTO deploys (id, service, env, version, stage, status, started_at, finished_at, commit_time)
				VALUES ($1, 'checkout', 'prod', $1, 'full', $2, $3, $4, $5)`, fmt.Sprintf("v%d", i), status, start, finished, start-int64(i+1)*hour); err != nil {
				t.Fatal(err)
			}
		}
		db := open(t, dsn)
		k, err := db.DORA(t.Context(), "checkout", "prod", time.UnixMicro(day0), time.UnixMicro(day0).Add(3*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if k.Deployments != 4 || k.FinishedChanges != 3 || k.FailedChanges != 2 || k.LeadTimeSamples != 4 || *k.LeadTimeSeconds != 2.5*3600 {
			t.Errorf("after the migration: %s; want 4 deployments, 2/3 failed, lead time 9000 over 4", keys(k))
		}
	})
}
