package analysis_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/pgtest"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// canaryYAML is a one-metric config; analysis settings are appended.
const canaryYAML = `metrics:
  - name: latency
    query: 'latency{service="{{.Service}}",version="{{.Version}}",ns="{{.Vars.ns}}"}'
    direction: increase
analysis:
  vars: {ns: shop}
`

// fakeSource answers every query with one series per version around a
// level of 100, identical for both sides unless slow says the version is
// slower at that time. It records every call.
type fakeSource struct {
	mu    sync.Mutex
	calls []call
	// slow: the factor of the version's level at t (nil: 1).
	slow func(version string, t time.Time) float64
	// fail: the error of a query asked at now (nil: none).
	fail func(now time.Time, query string) error
	// empty: the version has no series (nil: never).
	empty func(version string) bool
}

type call struct {
	At         time.Time
	Query      string
	Start, End time.Time
}

func (f *fakeSource) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
	now := time.Now()
	f.mu.Lock()
	f.calls = append(f.calls, call{now, query, start, end})
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(now, query); err != nil {
			return nil, err
		}
	}
	version := between(query, `version="`, `"`)
	if f.empty != nil && f.empty(version) {
		return nil, nil
	}
	s := prom.Series{Labels: map[string]string{"__name__": "latency", "version": version}}
	for i, t := 0, start; !t.After(end); i, t = i+1, t.Add(step) {
		level := 100.0
		if f.slow != nil {
			level *= f.slow(version, t)
		}
		// The same noise for the same position in a window: identical
		// sides are identical samples.
		s.Points = append(s.Points, prom.Point{T: t, V: level * (1 + noise(i))})
	}
	return []prom.Series{s}, nil
}

// noise is a deterministic wobble of ±5 %.
func noise(i int) float64 { return 0.05 * math.Sin(float64(i)*1.7) }

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

func (f *fakeSource) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// env is one test's world: a SQLite store with a deploy of checkout v2
// (baseline v1) and a fake metric source.
type env struct {
	t   *testing.T
	db  *store.DB
	dep gohere.Deploy
	src *fakeSource
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	if dsn == "" {
		dsn = filepath.Join(t.TempDir(), "gohere.db")
	}
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	dep, _, err := db.CreateDeploy(t.Context(), gohere.Deploy{Service: "checkout", Env: "prod", Version: "v2",
		BaselineVersion: "v1", StartedAt: time.Now()}, "")
	if err != nil {
		t.Fatalf("CreateDeploy: %v", err)
	}
	return &env{t: t, db: db, dep: dep, src: &fakeSource{}}
}

// analysis creates an analysis of the deploy with canaryYAML plus settings
// (step 5s unless they say otherwise).
func (e *env) analysis(settings string, start, end time.Time) store.Analysis {
	e.t.Helper()
	if !strings.Contains(settings, "step:") {
		settings += "  step: 5s\n"
	}
	a, err := analysis.Prepare(e.dep, []byte(canaryYAML+settings), start, end, time.Now())
	if err != nil {
		e.t.Fatalf("Prepare: %v", err)
	}
	a, err = e.db.CreateAnalysis(e.t.Context(), a)
	if err != nil {
		e.t.Fatalf("CreateAnalysis: %v", err)
	}
	return a
}

// run starts a runner; the returned func kills it (no graceful release) and
// waits until its workers are gone.
func (e *env) run(owner string, src analysis.Source, edit ...func(*analysis.Options)) (kill func()) {
	e.t.Helper()
	o := analysis.Options{Store: e.db, Source: src, Owner: owner, Lease: 30 * time.Second,
		Logger: slog.New(slog.NewTextHandler(e.t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	for _, f := range edit {
		f(&o)
	}
	r, err := analysis.NewRunner(o)
	if err != nil {
		e.t.Fatalf("NewRunner: %v", err)
	}
	ctx, cancel := context.WithCancel(e.t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

func (e *env) get(id string) store.Analysis {
	e.t.Helper()
	a, err := e.db.GetAnalysis(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("GetAnalysis: %v", err)
	}
	return a
}

// report decodes an interval's judge report.
func report(t *testing.T, iv store.Interval) judge.Report {
	t.Helper()
	var r judge.Report
	if err := json.Unmarshal(iv.Report, &r); err != nil {
		t.Fatalf("interval %d: report %s: %v", iv.Seq, iv.Report, err)
	}
	return r
}

type judged struct {
	Seq              int
	Canary, Baseline analysis.Window
	Verdict          gohere.Verdict
}

func summary(a store.Analysis) []judged {
	var out []judged
	for _, iv := range a.Intervals {
		out = append(out, judged{iv.Seq, analysis.Window{Start: iv.Start, End: iv.End},
			analysis.Window{Start: iv.BaselineStart, End: iv.BaselineEnd}, iv.Verdict})
	}
	return out
}

// TestWindows runs whole analyses in fake time: nothing is judged during
// the warm-up or before a window has ended, every interval is judged once
// within a poll of its due time, on the growing or sliding window.
func TestWindows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings string
		windows  func(start time.Time, seq int) (canary, baseline analysis.Window)
	}{
		{"growing", "  lifetime: 5m\n  interval: 1m\n  warmup: 1m\n", func(s time.Time, seq int) (analysis.Window, analysis.Window) {
			w := analysis.Window{Start: s.Add(time.Minute), End: s.Add(time.Duration(seq+1) * time.Minute)}
			return w, w
		}},
		{"sliding", "  lifetime: 5m\n  interval: 1m\n  warmup: 1m\n  lookback: 90s\n", func(s time.Time, seq int) (analysis.Window, analysis.Window) {
			end := s.Add(time.Duration(seq+1) * time.Minute)
			w := analysis.Window{Start: end.Add(-90 * time.Second), End: end}
			if seq == 1 {
				w.Start = s.Add(time.Minute)
			}
			return w, w
		}},
		{"before_after", "  lifetime: 5m\n  interval: 1m\n  warmup: 1m\n  mode: before_after\n  offset: 24h\n", func(s time.Time, seq int) (analysis.Window, analysis.Window) {
			w := analysis.Window{Start: s.Add(time.Minute), End: s.Add(time.Duration(seq+1) * time.Minute)}
			return w, analysis.Window{Start: w.Start.Add(-24 * time.Hour), End: w.End.Add(-24 * time.Hour)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, "")
				start := time.Now()
				a := e.analysis(tc.settings, time.Time{}, time.Time{})
				kill := e.run("r1", e.src)
				defer kill()

				time.Sleep(90 * time.Second)
				synctest.Wait()
				if got := e.get(a.ID); got.State != store.AnalysisRunning || len(got.Intervals) != 0 || len(e.src.snapshot()) != 0 {
					t.Fatalf("during the warm-up: state %s, %d intervals, %d queries; want running, none, none",
						got.State, len(got.Intervals), len(e.src.snapshot()))
				}
				time.Sleep(5 * time.Minute)
				synctest.Wait()

				got := e.get(a.ID)
				var want []judged
				for seq := 1; seq <= 4; seq++ {
					c, b := tc.windows(start, seq)
					want = append(want, judged{seq, c, b, gohere.VerdictPass})
				}
				if diff := cmp.Diff(want, summary(got)); diff != "" {
					t.Errorf("intervals (-want +got):\n%s", diff)
				}
				for _, iv := range got.Intervals {
					if iv.JudgedAt.Before(iv.End) || iv.JudgedAt.After(iv.End.Add(time.Second)) || iv.JudgedBy != "r1" {
						t.Errorf("interval %d judged at %v by %s; want within a poll (1s) after its end %v, by r1", iv.Seq, iv.JudgedAt, iv.JudgedBy, iv.End)
					}
					if iv.CanarySamples < 13 || iv.BaselineSamples != iv.CanarySamples {
						t.Errorf("interval %d: %d/%d samples; want at least 13 per side, equal", iv.Seq, iv.BaselineSamples, iv.CanarySamples)
					}
					var qs []analysis.Query
					if err := json.Unmarshal(iv.Queries, &qs); err != nil || len(qs) != 2 ||
						qs[0].Query != `latency{service="checkout",version="v1",ns="shop"}` || qs[1].Query != `latency{service="checkout",version="v2",ns="shop"}` {
						t.Errorf("interval %d: stored queries %s (%v); want the resolved baseline and canary queries", iv.Seq, iv.Queries, err)
					}
				}
				if got.State != store.AnalysisAwaitingDecision || got.Verdict != gohere.VerdictPass || got.Decision != nil || !got.NextDueAt.IsZero() {
					t.Errorf("after the lifetime: state %s, verdict %s, decision %v, due %v; want awaiting_decision, Pass, none, none",
						got.State, got.Verdict, got.Decision, got.NextDueAt)
				}
				calls := e.src.snapshot()
				if len(calls) != 8 {
					t.Errorf("%d queries, want 8 (4 intervals × 2 sides)", len(calls))
				}
				for _, c := range calls {
					if c.At.Before(c.End) {
						t.Errorf("query %q asked at %v, before its window ends at %v", c.Query, c.At, c.End)
					}
				}
			})
		})
	}
}

func TestEarlyStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		start := time.Now()
		// The canary turns 50 % slower 90 s in: interval 1 passes, interval 2 fails.
		e.src.slow = func(version string, at time.Time) float64 {
			if version == "v2" && !at.Before(start.Add(90*time.Second)) {
				return 1.5
			}
			return 1
		}
		a := e.analysis("  lifetime: 10m\n  interval: 1m\n", time.Time{}, time.Time{})
		kill := e.run("r1", e.src)
		defer kill()
		time.Sleep(15 * time.Minute)
		synctest.Wait()

		got := e.get(a.ID)
		verdicts := []gohere.Verdict{}
		for _, iv := range got.Intervals {
			verdicts = append(verdicts, iv.Verdict)
		}
		if diff := cmp.Diff([]gohere.Verdict{gohere.VerdictPass, gohere.VerdictFail}, verdicts); diff != "" {
			t.Errorf("interval verdicts (-want +got):\n%s", diff)
		}
		if got.State != store.AnalysisFailedEarly || got.Verdict != gohere.VerdictFail || !got.NextDueAt.IsZero() {
			t.Errorf("after a failing interval: state %s, verdict %s, due %v; want failed_early, Fail, nothing due", got.State, got.Verdict, got.NextDueAt)
		}
		if n := len(e.src.snapshot()); n != 4 {
			t.Errorf("%d queries; want 4: nothing after the early stop", n)
		}
		rep := report(t, got.Intervals[1])
		if len(rep.Metrics) != 1 || rep.Metrics[0].Label != judge.LabelHigh {
			t.Errorf("interval 2 report metrics %+v; want latency High", rep.Metrics)
		}
	})
}

// TestRestart kills a runner in the middle of interval 2 and starts another
// (a restarted server, or the other replica) after three more intervals
// fell due: it resumes at interval 2, judges none twice and skips none.
func TestRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		start := time.Now()
		a := e.analysis("  lifetime: 6m\n  interval: 1m\n", time.Time{}, time.Time{})

		// The first runner hangs in interval 2's queries until it is killed.
		hung := make(chan struct{})
		var once sync.Once
		stuck := analysis.SourceFunc(func(ctx context.Context, q string, s, end time.Time, step time.Duration) ([]prom.Series, error) {
			if end.Equal(start.Add(2 * time.Minute)) {
				once.Do(func() { close(hung) })
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return e.src.QueryRange(ctx, q, s, end, step)
		})
		kill := e.run("dead", stuck)
		<-hung
		synctest.Wait()
		kill()
		if got := e.get(a.ID); len(got.Intervals) != 1 || got.NextSeq != 2 {
			t.Fatalf("after the kill: %d intervals, next %d; want 1 and 2", len(got.Intervals), got.NextSeq)
		}

		time.Sleep(3 * time.Minute) // intervals 2, 3 and 4 fall due while nobody runs
		restarted := time.Now()
		kill = e.run("alive", e.src)
		defer kill()
		time.Sleep(4 * time.Minute)
		synctest.Wait()

		got := e.get(a.ID)
		var seqs []int
		for _, iv := range got.Intervals {
			seqs = append(seqs, iv.Seq)
			wantBy := "alive"
			if iv.Seq == 1 {
				wantBy = "dead"
			}
			if iv.JudgedBy != wantBy || !iv.End.Equal(start.Add(time.Duration(iv.Seq)*time.Minute)) {
				t.Errorf("interval %d: judged by %s, window end %v; want %s, %v", iv.Seq, iv.JudgedBy, iv.End, wantBy, start.Add(time.Duration(iv.Seq)*time.Minute))
			}
			if iv.Seq >= 2 && iv.Seq <= 4 && iv.JudgedAt.After(restarted.Add(time.Second)) {
				t.Errorf("interval %d was overdue at the restart but judged at %v, not at once (%v)", iv.Seq, iv.JudgedAt, restarted)
			}
		}
		if diff := cmp.Diff([]int{1, 2, 3, 4, 5, 6}, seqs); diff != "" {
			t.Errorf("judged intervals (-want +got):\n%s", diff)
		}
		if got.State != store.AnalysisAwaitingDecision || got.Verdict != gohere.VerdictPass {
			t.Errorf("state %s, verdict %s; want awaiting_decision, Pass", got.State, got.Verdict)
		}
	})
}

// TestRetrospective judges a window in the past at once.
func TestRetrospective(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		now := time.Now()
		start := now.Add(-3 * time.Hour)
		a := e.analysis("  interval: 10m\n", start, start.Add(time.Hour))
		if !a.Retrospective {
			t.Errorf("an analysis that ended an hour ago is not retrospective")
		}
		kill := e.run("r1", e.src)
		defer kill()
		time.Sleep(time.Second)
		synctest.Wait()
		got := e.get(a.ID)
		if len(got.Intervals) != 6 || got.State != store.AnalysisAwaitingDecision || got.Verdict != gohere.VerdictPass {
			t.Fatalf("retrospective analysis: %d intervals, state %s, verdict %s; want 6, awaiting_decision, Pass",
				len(got.Intervals), got.State, got.Verdict)
		}
		for _, iv := range got.Intervals {
			if iv.JudgedAt.After(now.Add(time.Second)) || !iv.End.Equal(start.Add(time.Duration(iv.Seq)*10*time.Minute)) {
				t.Errorf("interval %d judged at %v over %v–%v; want at once over its own window", iv.Seq, iv.JudgedAt, iv.Start, iv.End)
			}
		}
	})
}

// TestOutage: the metric store is down from before interval 1 is due until
// after interval 2 is due. Interval 1 is retried until interval 2 is due,
// then recorded as NoData with the reason; the run recovers. An outage over
// the last interval leaves the run NoData, never Pass.
func TestOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		start := time.Now()
		down := func(from, to time.Duration) func(time.Time, string) error {
			return func(now time.Time, _ string) error {
				if !now.Before(start.Add(from)) && now.Before(start.Add(to)) {
					return gohere.Errorf(gohere.Unavailable, "connection refused")
				}
				return nil
			}
		}
		outage := down(110*time.Second, 190*time.Second)
		e.src.fail = func(now time.Time, q string) error {
			if err := outage(now, q); err != nil {
				return err
			}
			return down(5*time.Minute-time.Second, time.Hour)(now, q) // and again over the last interval
		}
		a := e.analysis("  lifetime: 5m\n  interval: 1m\n  warmup: 1m\n", time.Time{}, time.Time{})
		kill := e.run("r1", e.src, func(o *analysis.Options) { o.Backoff = 5 * time.Second })
		defer kill()

		time.Sleep(150 * time.Second)
		synctest.Wait()
		if got := e.get(a.ID); got.Attempts == 0 || !strings.Contains(got.LastError, "connection refused") || len(got.Intervals) != 0 {
			t.Errorf("during the outage: %d tries, last error %q, %d intervals; want failed tries with the reason, none recorded",
				got.Attempts, got.LastError, len(got.Intervals))
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()

		got := e.get(a.ID)
		var verdicts []gohere.Verdict
		for _, iv := range got.Intervals {
			verdicts = append(verdicts, iv.Verdict)
		}
		want := []gohere.Verdict{gohere.VerdictNoData, gohere.VerdictPass, gohere.VerdictPass, gohere.VerdictNoData}
		if diff := cmp.Diff(want, verdicts); diff != "" {
			t.Fatalf("interval verdicts (-want +got):\n%s", diff)
		}
		for _, i := range []int{0, 3} {
			iv := got.Intervals[i]
			if !strings.Contains(iv.Error, "connection refused") || iv.Report != nil {
				t.Errorf("interval %d: error %q, report %s; want the reason and no report", iv.Seq, iv.Error, iv.Report)
			}
		}
		if iv := got.Intervals[0]; iv.JudgedAt.Before(start.Add(3 * time.Minute)) {
			t.Errorf("interval 1 given up at %v; want retries until interval 2 is due (%v)", iv.JudgedAt, start.Add(3*time.Minute))
		}
		if got.State != store.AnalysisAwaitingDecision || got.Verdict != gohere.VerdictNoData {
			t.Errorf("after an outage over the last interval: state %s, verdict %s; want awaiting_decision, NoData", got.State, got.Verdict)
		}
	})
}

func TestBadQuery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		e.src.fail = func(time.Time, string) error {
			return gohere.Errorf(gohere.Invalid, `bad_data: 1:9: parse error: unexpected "}"`)
		}
		a := e.analysis("  lifetime: 5m\n  interval: 1m\n", time.Time{}, time.Time{})
		kill := e.run("r1", e.src)
		defer kill()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		got := e.get(a.ID)
		if got.State != store.AnalysisError || got.Verdict != gohere.VerdictNoData || len(got.Intervals) != 1 ||
			!strings.Contains(got.Intervals[0].Error, "parse error") || len(e.src.snapshot()) != 2 {
			t.Errorf("a rejected query: state %s, verdict %s, %d intervals (%+v), %d queries; want error, NoData, one with the reason, 2 queries",
				got.State, got.Verdict, len(got.Intervals), got.Intervals, len(e.src.snapshot()))
		}
	})
}

func TestNoSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		e.src.empty = func(version string) bool { return version == "v2" } // the canary gets no traffic
		a := e.analysis("  lifetime: 3m\n  interval: 1m\n", time.Time{}, time.Time{})
		kill := e.run("r1", e.src)
		defer kill()
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		got := e.get(a.ID)
		if len(got.Intervals) != 3 || got.State != store.AnalysisAwaitingDecision || got.Verdict != gohere.VerdictNoData {
			t.Fatalf("no canary series: %d intervals, state %s, verdict %s; want 3 (no early stop), awaiting_decision, NoData",
				len(got.Intervals), got.State, got.Verdict)
		}
		for _, iv := range got.Intervals {
			rep := report(t, iv)
			want := `no series for latency{service="checkout",version="v2",ns="shop"}`
			if iv.Verdict != gohere.VerdictNoData || len(rep.Metrics) != 1 || rep.Metrics[0].Reason != want || iv.CanarySamples != 0 {
				t.Errorf("interval %d: verdict %s, metrics %+v, %d canary samples; want NoData with reason %q", iv.Seq, iv.Verdict, rep.Metrics, iv.CanarySamples, want)
			}
		}
	})
}

func TestAutoPromote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		a := e.analysis("  lifetime: 2m\n  interval: 1m\n  auto_promote: on_pass\n", time.Time{}, time.Time{})
		kill := e.run("r1", e.src)
		defer kill()
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		got := e.get(a.ID)
		if got.State != store.AnalysisApproved || got.Decision == nil || got.Decision.Kind != gohere.DecisionApprove || got.Decision.Actor != "gohere" {
			t.Errorf("auto_promote on_pass after passing: state %s, decision %+v; want approved by gohere", got.State, got.Decision)
		}
	})
}

func TestNewRunnerRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    analysis.Options
	}{
		{"nothing", analysis.Options{}},
		{"no owner", analysis.Options{Store: &store.DB{}, Source: &fakeSource{}}},
		{"negative lease", analysis.Options{Store: &store.DB{}, Source: &fakeSource{}, Owner: "r1", Lease: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := analysis.NewRunner(tc.o); gohere.KindOf(err) != gohere.Invalid {
				t.Errorf("NewRunner = %v, want an Invalid error", err)
			}
		})
	}
}

// TestJudgeWindow judges one window at once, as `gohere judge --source`
// does: the config's warm-up does not apply, before_after shifts the
// baseline window, and a slower canary fails.
func TestJudgeWindow(t *testing.T) {
	cfg, err := judge.LoadConfig(strings.NewReader(canaryYAML + "  lifetime: 1h\n  warmup: 10m\n  step: 5s\n  mode: before_after\n  offset: 1h\n"))
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{slow: func(version string, _ time.Time) float64 {
		if version == "v2" {
			return 1.5
		}
		return 1
	}}
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	to := from.Add(5 * time.Minute)
	target := analysis.Target{Service: "checkout", Env: "prod", Baseline: "v1", Canary: "v2"}
	res, err := analysis.JudgeWindow(t.Context(), src, nil, cfg, target, from, to)
	if err != nil {
		t.Fatalf("JudgeWindow: %v", err)
	}
	want := []call{
		{Query: `latency{service="checkout",version="v1",ns="shop"}`, Start: from.Add(-time.Hour), End: to.Add(-time.Hour)},
		{Query: `latency{service="checkout",version="v2",ns="shop"}`, Start: from, End: to},
	}
	got := src.snapshot()
	for i := range got {
		got[i].At = time.Time{}
	}
	slices.SortFunc(got, func(a, b call) int { return strings.Compare(a.Query, b.Query) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
	if res.Report.Verdict != gohere.VerdictFail || res.CanarySamples != 61 || len(res.Queries) != 2 {
		t.Errorf("verdict %s, %d canary samples, %d queries; want Fail, 61, 2", res.Report.Verdict, res.CanarySamples, len(res.Queries))
	}
	if _, err := analysis.JudgeWindow(t.Context(), src, nil, cfg, target, to, from); gohere.KindOf(err) != gohere.Invalid {
		t.Errorf("JudgeWindow(end before start) = %v, want Invalid", err)
	}
	target.Baseline = ""
	if _, err := analysis.JudgeWindow(t.Context(), src, nil, cfg, target, from, to); gohere.KindOf(err) != gohere.Invalid {
		t.Errorf("JudgeWindow(no baseline version) = %v, want Invalid", err)
	}
}

// TestHaltStopsQueries: a person halts an analysis between its intervals;
// the runner asks the metric store nothing more about it.
func TestHaltStopsQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		a := e.analysis("  lifetime: 10m\n  interval: 1m\n", time.Time{}, time.Time{})
		kill := e.run("r1", e.src)
		defer kill()
		time.Sleep(2*time.Minute + 30*time.Second)
		synctest.Wait()
		if _, err := e.db.Decide(t.Context(), a.ID, gohere.Decision{Kind: gohere.DecisionHalt, Actor: "bob",
			Reason: "wrong build", Source: gohere.SourceAPI, DecidedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		before := len(e.src.snapshot())
		if before == 0 {
			t.Fatal("no interval judged before the halt: the test proves nothing")
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if after := len(e.src.snapshot()); after != before {
			t.Errorf("%d queries after the halt, want none", after-before)
		}
		if got := e.get(a.ID); got.State != store.AnalysisHalted || len(got.Intervals) != 2 {
			t.Errorf("after halt: state %s, %d intervals; want halted after 2", got.State, len(got.Intervals))
		}
	})
}

// TestAutoHalt: auto_halt on_fail halts a failing canary, and its deploy,
// without waiting for a person.
func TestAutoHalt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, "")
		e.src.slow = func(version string, _ time.Time) float64 {
			if version == "v2" {
				return 2
			}
			return 1
		}
		a := e.analysis("  lifetime: 5m\n  interval: 1m\n  auto_halt: on_fail\n", time.Time{}, time.Time{})
		kill := e.run("r1", e.src)
		defer kill()
		time.Sleep(6 * time.Minute)
		synctest.Wait()
		got := e.get(a.ID)
		if got.State != store.AnalysisHalted || got.Decision == nil || got.Decision.Kind != gohere.DecisionHalt ||
			got.Decision.Source != gohere.SourceAuto || len(got.Intervals) != 1 {
			t.Fatalf("auto_halt after a failing interval: state %s, %d intervals, decision %+v; want halted by gohere after 1",
				got.State, len(got.Intervals), got.Decision)
		}
		d, err := e.db.GetDeploy(t.Context(), e.dep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != gohere.StatusHalted {
			t.Errorf("deploy %s after auto_halt, want halted", d.Status)
		}
	})
}
