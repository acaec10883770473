package store_test

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

const canaryConfig = "metrics:\n  - name: p99\n    query: 'x{version=\"{{.Version}}\"}'\n"

func newAnalysis(t *testing.T, db *store.DB, d gohere.Deploy, start time.Time) store.Analysis {
	t.Helper()
	a, err := db.CreateAnalysis(t.Context(), store.Analysis{
		DeployID: d.ID, Config: canaryConfig, Service: d.Service, Env: d.Env,
		BaselineVersion: "v0", CanaryVersion: d.Version,
		StartAt: start, EndAt: start.Add(30 * time.Minute), NextDueAt: start.Add(5 * time.Minute),
		CreatedAt: start,
	})
	if err != nil {
		t.Fatalf("CreateAnalysis: %v", err)
	}
	return a
}

func claim(t *testing.T, db *store.DB, owner string, now time.Time) (store.Analysis, bool) {
	t.Helper()
	a, found, err := db.ClaimDueAnalysis(t.Context(), owner, now, time.Minute)
	if err != nil {
		t.Fatalf("ClaimDueAnalysis(%s, %v): %v", owner, now, err)
	}
	return a, found
}

func interval(a store.Analysis, seq int, at time.Time, verdict gohere.Verdict) store.Interval {
	return store.Interval{
		Seq: seq, Start: a.StartAt, End: at, BaselineStart: a.StartAt.Add(-time.Hour), BaselineEnd: at.Add(-time.Hour),
		Queries:         json.RawMessage(`[{"metric":"p99","role":"canary","query":"x{version=\"v1\"}"}]`),
		BaselineSamples: 11, CanarySamples: 10, Report: json.RawMessage(`{"verdict":"` + string(verdict) + `"}`),
		Verdict: verdict, Score: 96.5, JudgedAt: at, Duration: 1500 * time.Microsecond,
	}
}

func TestAnalysisLifecycle(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		a := newAnalysis(t, db, d, base)
		if a.State != store.AnalysisPending || a.NextSeq != 1 || !a.NextDueAt.Equal(base.Add(5*time.Minute)) || a.ID == "" {
			t.Fatalf("created %+v; want pending, seq 1, due at start+5m", a)
		}
		got, err := db.GetAnalysis(ctx, a.ID)
		if err != nil {
			t.Fatalf("GetAnalysis: %v", err)
		}
		a.Intervals = []store.Interval{}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("GetAnalysis after create (-want +got):\n%s", diff)
		}

		// Not due before NextDueAt.
		if _, found := claim(t, db, "r1", base.Add(5*time.Minute-time.Microsecond)); found {
			t.Fatal("claimed an analysis before it was due")
		}
		due := base.Add(5 * time.Minute)
		c, found := claim(t, db, "r1", due)
		if !found || c.ID != a.ID || c.State != store.AnalysisRunning || c.Lease.Owner != "r1" || c.Lease.Token != 1 ||
			!c.Lease.ExpiresAt.Equal(due.Add(time.Minute)) {
			t.Fatalf("claim = %+v (found %v); want %s running, leased to r1 with token 1 until %v", c, found, a.ID, due.Add(time.Minute))
		}
		// Leased: nobody else gets it until the lease ends.
		if _, found := claim(t, db, "r2", due.Add(30*time.Second)); found {
			t.Fatal("claimed an analysis under another runner's lease")
		}

		// A failed try: due again later, the reason kept.
		if err := db.ReleaseAnalysis(ctx, c.Lease, due, due.Add(10*time.Second), "metric store: 503"); err != nil {
			t.Fatalf("ReleaseAnalysis: %v", err)
		}
		c, found = claim(t, db, "r2", due.Add(10*time.Second))
		if !found || c.Attempts != 1 || c.LastError != "metric store: 503" || c.Lease.Token != 2 {
			t.Fatalf("claim after a failed try = %+v; want 1 attempt with the reason, token 2", c)
		}

		iv := interval(c, 1, due.Add(11*time.Second), gohere.VerdictPass)
		next := base.Add(10 * time.Minute)
		if err := db.RecordInterval(ctx, c.Lease, iv, store.Progress{State: store.AnalysisRunning, NextDueAt: next}); err != nil {
			t.Fatalf("RecordInterval: %v", err)
		}
		// The same interval again, even with the same lease, is a Conflict.
		wantKind(t, "RecordInterval twice", db.RecordInterval(ctx, c.Lease, iv, store.Progress{State: store.AnalysisRunning, NextDueAt: next}), gohere.Conflict)

		got, err = db.GetAnalysis(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		iv.AnalysisID, iv.JudgedBy = a.ID, "r2"
		if diff := cmp.Diff([]store.Interval{iv}, got.Intervals); diff != "" {
			t.Errorf("intervals (-want +got):\n%s", diff)
		}
		if got.State != store.AnalysisRunning || got.Verdict != gohere.VerdictPass || got.Score != 96.5 || got.NextSeq != 2 ||
			!got.NextDueAt.Equal(next) || got.Attempts != 0 || got.LastError != "" {
			t.Errorf("after interval 1: %+v; want running, Pass 96.5, seq 2 due %v, no failed tries", got, next)
		}

		// The last interval ends the run with an automatic promotion.
		c, found = claim(t, db, "r1", next)
		if !found || c.NextSeq != 2 {
			t.Fatalf("claim of interval 2 = %+v, %v", c, found)
		}
		decision := &gohere.Decision{Kind: gohere.DecisionApprove, Actor: "gohere", Reason: "auto_promote: on_pass", Source: gohere.SourceAuto, DecidedAt: next}
		if err := db.RecordInterval(ctx, c.Lease, interval(c, 2, next, gohere.VerdictPass),
			store.Progress{State: store.AnalysisApproved, Decision: decision}); err != nil {
			t.Fatalf("RecordInterval(last): %v", err)
		}
		got, err = db.GetAnalysis(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.AnalysisApproved || !got.NextDueAt.IsZero() || len(got.Intervals) != 2 || !cmp.Equal(got.Decision, decision) {
			t.Errorf("after the last interval: state %s, due %v, %d intervals, decision %+v; want approved, none due, 2, %+v",
				got.State, got.NextDueAt, len(got.Intervals), got.Decision, decision)
		}
		// The summary has every interval, the evidence of the latest only.
		sum, err := db.GetAnalysisSummary(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := got
		want.Intervals = slices.Clone(got.Intervals)
		want.Intervals[0].Queries, want.Intervals[0].Report = nil, nil
		if diff := cmp.Diff(want, sum); diff != "" || len(sum.Intervals[1].Report) == 0 {
			t.Errorf("GetAnalysisSummary (-want +got):\n%s", diff)
		}
		if _, found := claim(t, db, "r1", next.Add(time.Hour)); found {
			t.Error("claimed a finished analysis")
		}
		wantKind(t, "ReleaseAnalysis(finished)", db.ReleaseAnalysis(ctx, c.Lease, next, next.Add(time.Hour), ""), gohere.Conflict)

		_, err = db.GetAnalysis(ctx, "no-such")
		wantKind(t, "GetAnalysis(unknown)", err, gohere.NotFound)
		wantKind(t, "ReleaseAnalysis(unknown)", db.ReleaseAnalysis(ctx, store.Lease{AnalysisID: "no-such"}, next, next, ""), gohere.NotFound)
	})
}

func TestAnalysisLeaseTakeover(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		a := newAnalysis(t, db, d, base)
		due := a.NextDueAt
		old, _ := claim(t, db, "dead", due)
		// The lease of a replica that died ends; another takes the run over.
		if _, found := claim(t, db, "alive", due.Add(time.Minute-time.Microsecond)); found {
			t.Fatal("took over before the lease ended")
		}
		taken, found := claim(t, db, "alive", due.Add(time.Minute))
		if !found || taken.Lease.Token != old.Lease.Token+1 || taken.NextSeq != 1 {
			t.Fatalf("takeover = %+v, %v; want the same interval with a newer token", taken, found)
		}
		// The old holder wakes up: it can neither record nor release.
		p := store.Progress{State: store.AnalysisRunning, NextDueAt: due.Add(5 * time.Minute)}
		wantKind(t, "RecordInterval(stale lease)", db.RecordInterval(ctx, old.Lease, interval(old, 1, due, gohere.VerdictFail), p), gohere.Conflict)
		wantKind(t, "ReleaseAnalysis(stale lease)", db.ReleaseAnalysis(ctx, old.Lease, due, due, "x"), gohere.Conflict)
		// A holder whose lease expired unclaimed may still record: nobody else judged.
		late := due.Add(time.Hour)
		if err := db.RecordInterval(ctx, taken.Lease, interval(taken, 1, late, gohere.VerdictPass), p); err != nil {
			t.Fatalf("RecordInterval(expired but not taken): %v", err)
		}
		got, _ := db.GetAnalysis(ctx, a.ID)
		if len(got.Intervals) != 1 || got.Intervals[0].JudgedBy != "alive" {
			t.Errorf("intervals %+v; want one judged by alive", got.Intervals)
		}
		// Skipping an interval is refused too.
		c, _ := claim(t, db, "alive", late)
		wantKind(t, "RecordInterval(seq 3 after 1)", db.RecordInterval(ctx, c.Lease, interval(c, 3, late, gohere.VerdictPass), p), gohere.Conflict)
	})
}

func TestAnalysisRejects(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		ctx := t.Context()
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		valid := store.Analysis{DeployID: d.ID, Config: canaryConfig, Service: "checkout", Env: "prod",
			CanaryVersion: "v1", StartAt: base, EndAt: base.Add(time.Hour)}
		for _, tc := range []struct {
			name string
			edit func(*store.Analysis)
			want gohere.Kind
		}{
			{"unknown deploy", func(a *store.Analysis) { a.DeployID = "no-such" }, gohere.NotFound},
			{"no config", func(a *store.Analysis) { a.Config = " \n" }, gohere.Invalid},
			{"binary config", func(a *store.Analysis) { a.Config = "\xff" }, gohere.Invalid},
			{"huge config", func(a *store.Analysis) { a.Config = strings.Repeat("#", store.MaxConfigLen+1) }, gohere.TooLarge},
			{"end before start", func(a *store.Analysis) { a.EndAt = base }, gohere.Invalid},
			{"no service", func(a *store.Analysis) { a.Service = "" }, gohere.Invalid},
			{"bad baseline", func(a *store.Analysis) { a.BaselineVersion = "a,b" }, gohere.Invalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := valid
				tc.edit(&a)
				_, err := db.CreateAnalysis(ctx, a)
				wantKind(t, "CreateAnalysis", err, tc.want)
			})
		}
		if as, err := db.ListAnalyses(ctx, d.ID); err != nil || len(as) != 0 {
			t.Errorf("after rejected creates: %d analyses, %v; want none", len(as), err)
		}

		a := newAnalysis(t, db, d, base)
		c, _ := claim(t, db, "r1", a.NextDueAt)
		good := interval(c, 1, a.NextDueAt, gohere.VerdictPass)
		running := store.Progress{State: store.AnalysisRunning, NextDueAt: base.Add(time.Hour)}
		for _, tc := range []struct {
			name string
			iv   func() store.Interval
			p    store.Progress
		}{
			{"seq 0", func() store.Interval { iv := good; iv.Seq = 0; return iv }, running},
			{"made-up verdict", func() store.Interval { iv := good; iv.Verdict = "Great"; return iv }, running},
			{"NaN score", func() store.Interval { iv := good; iv.Score = nan(); return iv }, running},
			{"queries not JSON", func() store.Interval { iv := good; iv.Queries = json.RawMessage("{"); return iv }, running},
			{"window backwards", func() store.Interval { iv := good; iv.End = iv.Start.Add(-time.Second); return iv }, running},
			{"running without due", func() store.Interval { return good }, store.Progress{State: store.AnalysisRunning}},
			{"finished with due", func() store.Interval { return good }, store.Progress{State: store.AnalysisHalted, NextDueAt: base}},
			{"made-up state", func() store.Interval { return good }, store.Progress{State: "exploded"}},
			{"bad decision", func() store.Interval { return good }, store.Progress{State: store.AnalysisApproved,
				Decision: &gohere.Decision{Kind: "maybe", DecidedAt: base}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantKind(t, "RecordInterval", db.RecordInterval(ctx, c.Lease, tc.iv(), tc.p), gohere.Invalid)
			})
		}
		got, _ := db.GetAnalysis(ctx, a.ID)
		if len(got.Intervals) != 0 || got.NextSeq != 1 {
			t.Errorf("after rejected records: %d intervals, next seq %d; want none and 1", len(got.Intervals), got.NextSeq)
		}
		_, _, err := db.ClaimDueAnalysis(ctx, "", base, time.Minute)
		wantKind(t, "ClaimDueAnalysis(no owner)", err, gohere.Invalid)
		_, _, err = db.ClaimDueAnalysis(ctx, "r1", base, 0)
		wantKind(t, "ClaimDueAnalysis(no lease)", err, gohere.Invalid)
	})
}

func nan() float64 { return math.NaN() }

func TestListAnalyses(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		other := create(t, db, deploy("cart", "prod", "v1", base))
		first := newAnalysis(t, db, d, base)
		second := newAnalysis(t, db, d, base.Add(time.Minute))
		newAnalysis(t, db, other, base)
		got, err := db.ListAnalyses(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]store.Analysis{second, first}, got, cmpopts.IgnoreFields(store.Analysis{}, "Intervals")); diff != "" {
			t.Errorf("ListAnalyses newest first (-want +got):\n%s", diff)
		}
		if got, err := db.ListAnalyses(t.Context(), "no-such"); err != nil || len(got) != 0 {
			t.Errorf("ListAnalyses(unknown) = %v, %v; want empty", got, err)
		}
	})
}

// TestClaimAnalysesConcurrently races claimers over many due analyses, as
// replicas do: each interval is claimed and recorded exactly once.
func TestClaimAnalysesConcurrently(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB, _ string) {
		const n, claimers = 60, 6
		d := create(t, db, deploy("checkout", "prod", "v1", base))
		for range n {
			newAnalysis(t, db, d, base)
		}
		now := base.Add(5 * time.Minute)
		var mu sync.Mutex
		recorded := map[string]int{}
		var wg sync.WaitGroup
		for i := range claimers {
			wg.Go(func() {
				owner := fmt.Sprintf("r%d", i)
				for {
					a, found, err := db.ClaimDueAnalysis(t.Context(), owner, now, time.Minute)
					if err != nil {
						t.Errorf("ClaimDueAnalysis: %v", err)
						return
					}
					if !found {
						return
					}
					// Nothing more due: it drops out of the race once recorded.
					err = db.RecordInterval(t.Context(), a.Lease, interval(a, a.NextSeq, now, gohere.VerdictPass),
						store.Progress{State: store.AnalysisRunning, NextDueAt: now.Add(time.Hour)})
					if err != nil {
						t.Errorf("RecordInterval(%s): %v", a.ID, err)
						return
					}
					mu.Lock()
					recorded[a.ID]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(recorded) != n {
			t.Errorf("recorded %d analyses, want %d", len(recorded), n)
		}
		for id, c := range recorded {
			if c != 1 {
				t.Errorf("analysis %s recorded %d times", id, c)
			}
		}
	})
}
