package outbox

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/grafanatest"
	"github.com/gohere/gohere/internal/store"
)

type fixture struct {
	db  *store.DB
	g   *grafanatest.Server
	w   *Worker
	rec *countingRecorder
}

type countingRecorder struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *countingRecorder) AnnotationWrite(result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[result]++
}

func (r *countingRecorder) count(result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[result]
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "gohere.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g := grafanatest.New(t, grafanatest.Options{})
	gc, err := annotate.NewGrafana(g.URL(), g.Token(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rec := &countingRecorder{counts: map[string]int{}}
	w, err := New(Options{
		Queue: db, Deploys: db, Annotator: gc, Recorder: rec,
		Links: func(d gohere.Deploy) annotate.Links {
			return annotate.Links{GoHere: "https://grafana.example/d/gohere-compare?var-canary=" + d.Version, Report: "https://gohere.example/deploys/" + d.ID}
		},
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, g: g, w: w, rec: rec}
}

func (f *fixture) deploy(t testing.TB, service, version string) gohere.Deploy {
	t.Helper()
	d, _, err := f.db.CreateDeploy(t.Context(), gohere.Deploy{Service: service, Env: "prod", Version: version, Author: "alice"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) finish(t *testing.T, id string) gohere.Deploy {
	t.Helper()
	d, err := f.db.FinishDeploy(t.Context(), id, gohere.StatusSucceeded, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// drain delivers until the outbox is empty, as the worker's loop would.
func (f *fixture) drain(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := f.w.DeliverDue(t.Context()); err != nil {
			t.Fatalf("DeliverDue: %v", err)
		}
		pending, _, err := f.db.OutboxStats(t.Context(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still has %d entries after 10s", pending)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// annotationOf returns the only annotation tagged with the deploy's id.
func (f *fixture) annotationOf(t *testing.T, id string) grafanatest.Annotation {
	t.Helper()
	var found []grafanatest.Annotation
	for _, a := range f.g.Annotations() {
		if slices.Contains(a.Tags, annotate.DeployIDTag(id)) {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("deploy %s has %d annotations, want exactly 1: %+v", id, len(found), found)
	}
	return found[0]
}

func TestDeliverWritesOneRegionPerDeploy(t *testing.T) {
	f := newFixture(t)
	running := f.deploy(t, "checkout", "v2")
	done := f.finish(t, f.deploy(t, "payments", "p7").ID)
	f.drain(t)

	if got := len(f.g.Annotations()); got != 2 {
		t.Fatalf("got %d annotations, want 2", got)
	}
	a := f.annotationOf(t, done.ID)
	if a.Time != done.StartedAt.UnixMilli() || a.TimeEnd != done.FinishedAt.UnixMilli() {
		t.Errorf("finished deploy: time %d..%d, want %d..%d", a.Time, a.TimeEnd, done.StartedAt.UnixMilli(), done.FinishedAt.UnixMilli())
	}
	for _, tag := range []string{"deploy", "gohere", "service:payments", "env:prod", "version:p7", "status:succeeded"} {
		if !slices.Contains(a.Tags, tag) {
			t.Errorf("finished deploy: tags %q lack %q", a.Tags, tag)
		}
	}
	if a.DashboardUID != "" || a.DashboardID != 0 {
		t.Errorf("annotation is bound to dashboard %q/%d; want organisation-wide", a.DashboardUID, a.DashboardID)
	}
	r := f.annotationOf(t, running.ID)
	if r.TimeEnd < r.Time {
		t.Errorf("running deploy: timeEnd %d before time %d", r.TimeEnd, r.Time)
	}
	id, err := f.db.AnnotationID(t.Context(), running.ID)
	if err != nil || id != r.ID {
		t.Errorf("AnnotationID = %d, %v; want %d", id, err, r.ID)
	}
	if got := f.rec.count("ok"); got != 2 {
		t.Errorf("recorded %d ok writes, want 2", got)
	}
}

func TestLostCreateResponseIsNotDuplicated(t *testing.T) {
	f := newFixture(t)
	f.g.LoseNextResponses(1)
	d := f.deploy(t, "checkout", "v2")
	f.drain(t)
	f.annotationOf(t, d.ID)
	if got := f.rec.count("error"); got != 1 {
		t.Errorf("recorded %d failed writes, want 1 (the lost response)", got)
	}
}

func TestFinishBeforeCreateDeliveredEndsInOneRegion(t *testing.T) {
	f := newFixture(t)
	f.g.FailNext(1, http.StatusServiceUnavailable)
	d := f.deploy(t, "checkout", "v2")
	if _, err := f.w.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.g.Annotations()); n != 0 {
		t.Fatalf("Grafana was down but has %d annotations", n)
	}
	done := f.finish(t, d.ID)
	f.drain(t)
	a := f.annotationOf(t, d.ID)
	if a.Time != done.StartedAt.UnixMilli() || a.TimeEnd != done.FinishedAt.UnixMilli() {
		t.Errorf("time %d..%d, want %d..%d", a.Time, a.TimeEnd, done.StartedAt.UnixMilli(), done.FinishedAt.UnixMilli())
	}
}

func TestAnnotationDeletedInGrafanaIsRecreated(t *testing.T) {
	f := newFixture(t)
	d := f.deploy(t, "checkout", "v2")
	f.drain(t)
	first := f.annotationOf(t, d.ID)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, f.g.URL()+"/api/annotations/"+strconv.FormatInt(first.ID, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.g.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE annotation: %s", resp.Status)
	}
	f.finish(t, d.ID)
	f.drain(t)
	if again := f.annotationOf(t, d.ID); again.ID == first.ID || again.TimeEnd == 0 {
		t.Errorf("recreated annotation %+v; want a new id with the finish time", again)
	}
}

func TestGrafanaDownKeepsEntriesAndBacksOff(t *testing.T) {
	f := newFixture(t)
	f.g.FailNext(1000, http.StatusServiceUnavailable)
	f.deploy(t, "checkout", "v2")
	for range 3 {
		if _, err := f.w.DeliverDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // past the 5ms maximum backoff
	}
	pending, _, err := f.db.OutboxStats(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if pending != 1 {
		t.Errorf("pending = %d while Grafana is down, want 1", pending)
	}
	if got := f.rec.count("error"); got != 3 {
		t.Errorf("recorded %d failed writes, want 3", got)
	}
	if n := len(f.g.Annotations()); n != 0 {
		t.Errorf("%d annotations written while Grafana failed every request", n)
	}
}

func TestRunDeliversOnKickAndStopsWithContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	d := f.deploy(t, "checkout", "v2")
	f.w.Kick()
	deadline := time.Now().Add(10 * time.Second)
	for len(f.g.Annotations()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	f.annotationOf(t, d.ID)
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func TestNewRequiresItsDependencies(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New with no queue, deploys or annotator succeeded")
	}
}

// TestSlowGrafanaNeverOutlivesTheLease: with a slow (not failing) Grafana a
// batch takes longer than its lease. The worker starts a deploy's delivery
// only while a delivery's time of the lease is left and leaves the rest
// claimed, so no second worker can claim an entry under delivery and write
// its annotation twice; once the lease ends, the rest is delivered.
func TestSlowGrafanaNeverOutlivesTheLease(t *testing.T) {
	f := newFixture(t)
	gc, err := annotate.NewGrafana(f.g.URL(), f.g.Token(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	const lease = time.Second
	w, err := New(Options{Queue: f.db, Deploys: f.db, Annotator: gc, Lease: lease, DeliveryTime: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const deploys = 20
	var ids []string
	for i := range deploys {
		ids = append(ids, f.deploy(t, "checkout", fmt.Sprintf("v%d", i)).ID)
	}
	f.g.Hang(60 * time.Millisecond) // a delivery (find, create) takes about 120 ms

	claimed := time.Now()
	n, err := w.DeliverDue(t.Context())
	if err != nil || n != deploys {
		t.Fatalf("DeliverDue = %d, %v; want all %d claimed", n, err, deploys)
	}
	delivered := len(f.g.Annotations())
	if delivered == 0 || delivered >= deploys {
		t.Fatalf("%d of %d delivered in one round; want some, not all: the lease would have run out", delivered, deploys)
	}
	if time.Since(claimed) < lease-100*time.Millisecond {
		if again, _ := w.DeliverDue(t.Context()); again != 0 {
			t.Fatalf("%d entries claimed again while their lease held", again)
		}
	}
	f.g.Hang(0)
	time.Sleep(time.Until(claimed.Add(lease)))
	f.w = w
	f.drain(t)
	for _, id := range ids {
		f.annotationOf(t, id) // exactly one each
	}
}

// TestRunningRegionsGrow: with an Extender, the worker rewrites a running
// deploy's region as time passes, so it never stays a zero-length mark.
func TestRunningRegionsGrow(t *testing.T) {
	f := newFixture(t)
	f.w.opts.Extender, f.w.opts.ExtendEvery, f.w.opts.Poll = f.db, 50*time.Millisecond, 10*time.Millisecond
	d := f.deploy(t, "checkout", "v2")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if as := f.g.Annotations(); len(as) == 1 && as[0].TimeEnd-as[0].Time >= 300 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running deploy's region did not grow: %+v", f.g.Annotations())
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.annotationOf(t, d.ID)
	cancel()
	<-done
}

// TestGrafanaRejectingTheTokenIsOneProblem: a 401 is not tried again for
// every entry, and is logged once, loudly, not once per entry and round.
func TestGrafanaRejectingTheTokenIsOneProblem(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	f.w.opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for i := range 20 {
		f.deploy(t, "checkout", fmt.Sprintf("v%d", i))
	}
	f.g.FailNext(1000, http.StatusUnauthorized)
	before := f.g.Requests()
	for range 3 {
		if _, err := f.w.DeliverDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // past the maximum backoff
	}
	if n := f.g.Requests() - before; n > 3 {
		t.Errorf("%d requests to a Grafana that rejects the token in 3 rounds, want one a round", n)
	}
	if got := f.w.GrafanaState(); got != "rejected" {
		t.Errorf("GrafanaState = %q, want rejected", got)
	}
	if n := strings.Count(logs.String(), "Grafana rejects the token"); n != 1 || strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("logged:\n%s\nwant one line saying Grafana rejects the token", logs.String())
	}
	f.g.FailNext(0, 0)
	f.drain(t)
	if f.w.GrafanaState() != "ok" || len(f.g.Annotations()) != 20 || !strings.Contains(logs.String(), "accepts annotation writes again") {
		t.Errorf("after the token works: state %s, %d annotations, logs:\n%s", f.w.GrafanaState(), len(f.g.Annotations()), logs.String())
	}
}

// TestLongOutageIsSummarised: while Grafana stays down, the log says so
// once when it starts, then once every SummaryEvery with what waits and
// for how long, and once when it ends; never once per round.
func TestLongOutageIsSummarised(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	f.w.opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f.w.opts.Backlog = f.db
	f.w.opts.SummaryEvery = 5 * time.Minute
	for i := range 3 {
		f.deploy(t, "checkout", fmt.Sprintf("v%d", i))
	}
	down := gohere.Errorf(gohere.Unavailable, "grafana: 503")
	start := time.Now()
	// Rounds every 30s for 12 minutes, then one that gets through.
	for i := range 25 {
		f.w.report(t.Context(), down, start.Add(time.Duration(i)*30*time.Second), 3)
	}
	f.w.report(t.Context(), nil, start.Add(12*time.Minute+time.Second), 3)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	want := []string{
		`level=WARN msg="outbox: Grafana is unavailable: annotations wait and are retried with backoff" waiting=3 err="grafana: 503"`,
		`level=WARN msg="outbox: Grafana is still unavailable: annotations wait" waiting=3 oldest=`,
		`level=WARN msg="outbox: Grafana is still unavailable: annotations wait" waiting=3 oldest=`,
		`level=INFO msg="outbox: Grafana accepts annotation writes again" after=12m1s`,
	}
	if len(lines) != len(want) {
		t.Fatalf("logged %d lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for i, w := range want {
		if _, msg, _ := strings.Cut(lines[i], " "); !strings.HasPrefix(msg, w) {
			t.Errorf("line %d:\n got %s\nwant %s…", i+1, msg, w)
		}
	}
	for i, d := range []string{"for=5m0s", "for=10m0s"} {
		if !strings.Contains(lines[i+1], d) || !strings.Contains(lines[i+1], `err="grafana: 503"`) {
			t.Errorf("summary %d: %s; want %s and the cause", i+1, lines[i+1], d)
		}
	}
}

// TestRejectedTokenIsSummarisedThroughRounds: the summary comes from the
// delivery rounds themselves, counting the whole backlog.
func TestRejectedTokenIsSummarisedThroughRounds(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	f.w.opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f.w.opts.Backlog = f.db
	f.w.opts.SummaryEvery = time.Nanosecond // every round after the first
	f.w.opts.Batch = 2                      // a round claims 2 of the 5 deploys
	for i := range 5 {
		f.deploy(t, "checkout", fmt.Sprintf("v%d", i))
	}
	f.g.FailNext(1000, http.StatusForbidden)
	for range 3 {
		if _, err := f.w.DeliverDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // past the maximum backoff
	}
	out := logs.String()
	if n := strings.Count(out, "Grafana rejects the token"); n != 1 {
		t.Errorf("%d start lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "Grafana still rejects the token"); n != 2 {
		t.Errorf("%d summaries, want 2 (rounds 2 and 3):\n%s", n, out)
	}
	if !strings.Contains(out, "waiting=5 oldest=") {
		t.Errorf("summaries do not count the whole backlog of 5:\n%s", out)
	}
}

// TestFlakyGrafanaIsNoOutage: a write that fails now and then retries on
// its own; the rest of the round goes on. Only downAfter failures in a row
// make the round leave Grafana alone.
func TestFlakyGrafanaIsNoOutage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      func(*grafanatest.Server)
		annotated int
		requests  int // 0: not checked
		state     string
	}{
		{"every fifth write fails", func(g *grafanatest.Server) { g.FailWrites(0.2, http.StatusServiceUnavailable) }, 8, 0, "ok"},
		{"every request fails", func(g *grafanatest.Server) { g.FailNext(1000, http.StatusServiceUnavailable) }, 0, downAfter, "down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var logs bytes.Buffer
			f.w.opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			for i := range 10 {
				f.deploy(t, "checkout", fmt.Sprintf("v%d", i))
			}
			tc.fail(f.g)
			before := f.g.Requests()
			if _, err := f.w.DeliverDue(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := len(f.g.Annotations()); n != tc.annotated {
				t.Errorf("one round annotated %d of 10 deploys, want %d", n, tc.annotated)
			}
			if n := f.g.Requests() - before; tc.requests != 0 && n != tc.requests {
				t.Errorf("one round sent %d requests, want %d", n, tc.requests)
			}
			if got := f.w.GrafanaState(); got != tc.state {
				t.Errorf("GrafanaState = %q, want %q; logged:\n%s", got, tc.state, logs.String())
			}
			if down := strings.Contains(logs.String(), "Grafana is unavailable"); down != (tc.state == "down") {
				t.Errorf("logged:\n%s\nwant an outage line only for an outage", logs.String())
			}
		})
	}
}
