package replay

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/tsdbtest"
)

var update = flag.Bool("update", false, "re-record the scenarios' answers from a real VictoriaMetrics into recordings/")

// recordedAt is where the recordings place the first scenario; the others
// follow spacing apart, so that queries of scenarios sharing their series
// (healthy and latency-regression) never see each other's samples, padded
// by reach on either side (see pad).
var recordedAt = time.Date(2026, time.January, 5, 0, 0, 0, 0, time.UTC)

var spacing = 4 * reach

// reach is how far the compare pages recorded look either side of a
// deploy start (the widest of compare.Ranges), with a rate window to spare.
var reach = slices.Max(compare.Ranges) + 10*time.Minute

// placed is a scenario placed at a start, with the window of its analysis
// (zero end: start + the config's lifetime, as Prepare decides).
type placed struct {
	sc         fixtures.Scenario
	start, end time.Time
}

// TestRecordings runs every fixture scenario through the real runner
// against a real VictoriaMetrics, recording what it answers, and checks
// that the committed recordings hold exactly those answers: a change of
// the fixtures, the configs, the runner's queries or the store's answers
// fails here until the recordings are renewed with -update. A run whose
// verdicts are not the expected ones is never written.
func TestRecordings(t *testing.T) {
	var ps []placed
	var samples []tsdbtest.Sample
	for i, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		p := placed{sc: sc, start: recordedAt.Add(time.Duration(i) * spacing)}
		ps = append(ps, p)
		samples = append(samples, pad(sc, tsdbtest.Scenario(sc, p.start), reach)...)
	}
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, samples)
	c, err := prom.New(prom.Options{URL: vm.URL()})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{src: c, placed: ps, got: map[string]*Recording{}}
	runs, db := analyze(t, rec, ps)
	checkVerdicts(t, ps, runs)
	for _, p := range ps {
		queryComparePage(t, rec, p)
	}
	queryDeployPages(t, rec, db, runs)
	if t.Failed() {
		return
	}
	for _, p := range ps {
		r := rec.got[p.sc.Name]
		if r == nil {
			t.Fatalf("%s: nothing recorded", p.sc.Name)
		}
		a := runs[p.sc.Name]
		r.start, r.end = a.StartAt.Sub(p.start), a.EndAt.Sub(p.start)
		if *update {
			write(t, r)
			continue
		}
		committed, err := Load(p.sc.Name)
		if err != nil {
			t.Fatalf("%v (record it with -update)", err)
		}
		if diff := diffRecordings(committed, r); diff != "" {
			t.Errorf("%s: the committed recording differs from what VictoriaMetrics answers now; run go test ./internal/replay -run TestRecordings -update and review:\n%s", p.sc.Name, diff)
		}
	}
}

// pad continues a scenario's series over every compare page recorded, up
// to reach before and after the scenario: a service serves before its
// canary deploy and after it, and a store has its samples on both sides.
// Without this the series ended where the scenario does, and rate() over
// a window reaching past their last sample came from the last increment
// or two alone: spikes at the end of every compare page, which no service
// that keeps running shows. The canary's version did not exist before its
// deploy: it is continued after the end only. Every series is a counter;
// it goes on by its own increments mirrored at the edges, so that the
// level and the noise stay those of the data next to them, and is lifted
// as a whole where counting back would go below zero (rates do not change).
func pad(sc fixtures.Scenario, samples []tsdbtest.Sample, reach time.Duration) []tsdbtest.Sample {
	step := sc.ScrapeInterval.Milliseconds()
	n := int(reach.Milliseconds() / step)
	out := make([]tsdbtest.Sample, len(samples))
	for i, s := range samples {
		incs := make([]float64, len(s.Values)-1)
		for j := range incs {
			incs[j] = s.Values[j+1] - s.Values[j]
		}
		// mirror is the k-th increment (from 0) going away from an edge:
		// the scenario's increments read back from it, then forth again.
		mirror := func(k int, fromEnd bool) float64 {
			if len(incs) == 0 {
				return 0
			}
			j := k % (2 * len(incs))
			if j >= len(incs) {
				j = 2*len(incs) - 1 - j
			}
			if fromEnd {
				j = len(incs) - 1 - j
			}
			return incs[j]
		}
		var ts []int64
		var vs []float64
		if s.Labels["version"] != sc.Canary {
			v := s.Values[0]
			for k := n; k > 0; k-- {
				ts = append(ts, s.Timestamps[0]-int64(k)*step)
			}
			vs = make([]float64, n)
			for k := range n {
				v -= mirror(k, false)
				vs[n-1-k] = v
			}
		}
		ts, vs = append(ts, s.Timestamps...), append(vs, s.Values...)
		last, v := s.Timestamps[len(s.Timestamps)-1], s.Values[len(s.Values)-1]
		for k := range n {
			v += mirror(k, true)
			ts, vs = append(ts, last+int64(k+1)*step), append(vs, v)
		}
		if lowest := slices.Min(vs); lowest < 0 {
			for j := range vs {
				vs[j] -= lowest
			}
		}
		out[i] = tsdbtest.Sample{Labels: s.Labels, Timestamps: ts, Values: vs}
	}
	return out
}

// queryComparePage makes the queries of the built-in compare page
// (internal/server/compare.go) of the scenario's deploy as `gohere demo`
// records it: started at the placement, finished Duration later, compared
// with the default signals, over the link's range and over each of
// compare.Ranges around the start. A failed query fails the test.
func queryComparePage(t *testing.T, src analysis.Source, p placed) {
	t.Helper()
	d := gohere.Deploy{Service: p.sc.Service, Env: p.sc.Env, Version: p.sc.Canary, BaselineVersion: p.sc.Baseline,
		Stage: gohere.StageCanary, Status: gohere.StatusSucceeded, StartedAt: p.start, FinishedAt: p.start.Add(p.sc.Duration)}
	link, err := url.Parse(compare.URL(compare.Config{}, d))
	if err != nil {
		t.Fatal(err)
	}
	q, err := compare.ParsePageQuery(link.Query())
	if err != nil {
		t.Fatal(err)
	}
	signals, err := compare.DefaultSignals(compare.Labels{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := compare.NewPage(q, signals, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pages := []compare.Page{page}
	for _, r := range compare.Ranges {
		around, err := compare.NewPage(page.Around(r), signals, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, around)
	}
	for _, page := range pages {
		for _, pn := range page.Panels {
			for _, query := range []string{pn.Baseline, pn.Canary} {
				if _, err := src.QueryRange(t.Context(), query, page.From, page.To, page.Step); err != nil {
					t.Errorf("%s: compare page %s..%s, %s: %v", p.sc.Name, page.From.Format(time.RFC3339), page.To.Format(time.RFC3339), pn.Name, err)
				}
			}
		}
	}
}

// recorder is a Source that passes queries on and records the answers of
// each placed scenario relative to its start.
type recorder struct {
	src    analysis.Source
	placed []placed
	mu     sync.Mutex
	got    map[string]*Recording
}

func (r *recorder) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
	// Every query's window opens at most reach before its scenario's start.
	i := slices.IndexFunc(r.placed, func(p placed) bool {
		from := p.start.Add(-reach)
		return !start.Before(from) && start.Before(from.Add(spacing))
	})
	if i < 0 {
		return nil, fmt.Errorf("recorder: query %q at %s is outside every placed scenario", query, start)
	}
	got, err := r.src.QueryRange(ctx, query, start, end, step)
	if err != nil {
		return nil, err // not recorded: the run fails the test
	}
	p := r.placed[i]
	out := make([]series, len(got))
	for j, s := range got {
		out[j] = series{Labels: s.Labels, T: make([]int64, len(s.Points)), V: make([]value, len(s.Points))}
		for k, pt := range s.Points {
			out[j].T[k] = pt.T.Sub(p.start).Milliseconds()
			out[j].V[k] = value(pt.V)
		}
	}
	// The store's order of series is not part of the answer.
	slices.SortFunc(out, func(a, b series) int { return strings.Compare(fmt.Sprint(a.Labels), fmt.Sprint(b.Labels)) })
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.got[p.sc.Name]
	if rec == nil {
		rec = &Recording{scenario: p.sc.Name, answers: map[key][]series{}}
		r.got[p.sc.Name] = rec
	}
	rec.answers[key{query: query, start: start.Sub(p.start), end: end.Sub(p.start), step: step}] = out
	return got, nil
}

// analyze runs the placed scenarios' analyses on a fresh SQLite store with
// a real runner querying src, and returns them once every one is over.
func analyze(t *testing.T, src analysis.Source, ps []placed) (map[string]store.Analysis, *store.DB) {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "gohere.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ids := map[string]string{}
	for _, p := range ps {
		dep, _, err := db.CreateDeploy(ctx, gohere.Deploy{Service: p.sc.Service, Env: p.sc.Env, Version: p.sc.Canary,
			BaselineVersion: p.sc.Baseline, Stage: gohere.StageCanary, StartedAt: p.start}, "")
		if err != nil {
			t.Fatal(err)
		}
		a, err := analysis.Prepare(dep, p.sc.Config, p.start, p.end, time.Now())
		if err != nil {
			t.Fatalf("%s: Prepare: %v", p.sc.Name, err)
		}
		if a, err = db.CreateAnalysis(ctx, a); err != nil {
			t.Fatal(err)
		}
		ids[p.sc.Name] = a.ID
	}
	r, err := analysis.NewRunner(analysis.Options{Store: db, Source: src, Owner: "replay-test",
		Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	out := map[string]store.Analysis{}
	deadline := time.Now().Add(time.Minute)
	for name, id := range ids {
		for {
			a, err := db.GetAnalysis(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !a.State.Active() {
				out[name] = a
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: analysis still %s after a minute (last error %q)", name, a.State, a.LastError)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out, db
}

// queryDeployPages renders the report page of every analysed deploy, whose
// plots query the store again (rate metrics per step, not as the window's
// total the runner asked for): the demo's pages are drawn from these
// answers. A plot whose query failed fails the test; one without data (grey,
// class "nodata missing") is what some scenarios show.
func queryDeployPages(t *testing.T, src server.MetricSource, db *store.DB, runs map[string]store.Analysis) {
	t.Helper()
	tokens, err := auth.Parse("ci:recorder:" + strings.Repeat("r", 32))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Store: db, Tokens: tokens, Analyses: db, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range runs {
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/deploys/"+a.DeployID, nil))
		if w.Code != http.StatusOK {
			t.Errorf("%s: deploy page: %d %s", name, w.Code, w.Body)
			continue
		}
		for _, problem := range regexp.MustCompile(`<p class="nodata">([^<]*)</p>`).FindAllStringSubmatch(w.Body.String(), -1) {
			t.Errorf("%s: deploy page plot: %s", name, problem[1])
		}
	}
}

// checkVerdicts wants every scenario's expected verdict, reached without
// errors, waiting for a human.
func checkVerdicts(t *testing.T, ps []placed, runs map[string]store.Analysis) {
	t.Helper()
	for _, p := range ps {
		a := runs[p.sc.Name]
		if a.Verdict != p.sc.Expected || !a.State.AwaitsDecision() || a.State == store.AnalysisError {
			t.Errorf("%s: state %s, verdict %s; want %s waiting for a decision", p.sc.Name, a.State, a.Verdict, p.sc.Expected)
		}
		for _, iv := range a.Intervals {
			if iv.Error != "" {
				t.Errorf("%s: interval %d: %s", p.sc.Name, iv.Seq, iv.Error)
			}
		}
	}
}

// write stores r as recordings/<scenario>.json.
func write(t *testing.T, r *Recording) {
	t.Helper()
	f := file{Scenario: r.scenario, Start: duration(r.start), End: duration(r.end)}
	for k, s := range r.answers {
		f.Answers = append(f.Answers, answer{Query: k.query, Start: duration(k.start), End: duration(k.end), Step: duration(k.step), Series: s})
	}
	slices.SortFunc(f.Answers, func(a, b answer) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), cmp.Compare(a.Query, b.Query), cmp.Compare(a.Step, b.Step))
	})
	// One answer a line, so that a renewed recording diffs readably.
	head, err := json.Marshal(file{Scenario: f.Scenario, Start: f.Start, End: f.End})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.Write(head[:len(head)-len(`,"answers":null}`)])
	buf.WriteString(`,"answers":[`)
	for i, a := range f.Answers {
		line, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n")
		buf.Write(line)
	}
	buf.WriteString("\n]}\n")
	path := filepath.Join("recordings", r.scenario+".json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d answers, %d bytes", path, len(f.Answers), buf.Len())
}

// diffRecordings describes how got differs from want, "" when it does not.
// Values may differ by a relative 1e-9 (a store built for another CPU may
// round differently); NaN equals NaN.
func diffRecordings(want, got *Recording) string {
	var out []string
	if want.start != got.start || want.end != got.end {
		out = append(out, fmt.Sprintf("analysis window %s..%s, want %s..%s", got.start, got.end, want.start, want.end))
	}
	sameValue := gocmp.Comparer(func(a, b value) bool {
		x, y := float64(a), float64(b)
		return x == y || math.IsNaN(x) && math.IsNaN(y) || math.Abs(x-y) <= 1e-9*max(math.Abs(x), math.Abs(y))
	})
	keys := slices.SortedFunc(func(yield func(key) bool) {
		for k := range want.answers {
			if !yield(k) {
				return
			}
		}
		for k := range got.answers {
			if _, ok := want.answers[k]; !ok && !yield(k) {
				return
			}
		}
	}, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.end, b.end), cmp.Compare(a.query, b.query))
	})
	for _, k := range keys {
		w, inWant := want.answers[k]
		g, inGot := got.answers[k]
		what := fmt.Sprintf("%q %s..%s step %s", k.query, k.start, k.end, k.step)
		switch {
		case !inGot:
			out = append(out, "no longer queried: "+what)
		case !inWant:
			out = append(out, "not recorded: "+what)
		default:
			if d := gocmp.Diff(w, g, sameValue); d != "" {
				out = append(out, fmt.Sprintf("different answer to %s (-recorded +now):\n%s", what, d))
			}
		}
		if len(out) >= 5 {
			out = append(out, "…")
			break
		}
	}
	return strings.Join(out, "\n")
}
