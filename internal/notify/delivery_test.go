package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/chattest"
	"github.com/gohere/gohere/internal/notify"
	"github.com/gohere/gohere/internal/pgtest"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// engines runs fn on a fresh database of each engine.
func engines(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	enginesDSN(t, func(t *testing.T, db *store.DB, _ string) { fn(t, db) })
}

// enginesDSN is engines, also passing the database's DSN to open it again.
func enginesDSN(t *testing.T, fn func(t *testing.T, db *store.DB, dsn string)) {
	pgtest.Engines(t, func(t *testing.T, dsn string) { fn(t, openDB(t, dsn), dsn) })
}

func openDB(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.EnableNotifications()
	return db
}

// failingReport is a judge report whose latency metric failed.
var failingReport = func() json.RawMessage {
	shift := 0.3
	b, err := json.Marshal(judge.Report{Verdict: gohere.VerdictFail, Reasons: []string{"latency_p99 is higher in the canary"},
		Metrics: []judge.MetricResult{{Name: "latency_p99", Label: judge.LabelHigh, Critical: true, CriticalFailure: true, RelativeShift: &shift}}})
	if err != nil {
		panic(err)
	}
	return b
}()

// runCanary takes deploy i through every state change: started, a failing
// first interval, the verdict, a decision and the finish.
func runCanary(ctx context.Context, db *store.DB, i int, at time.Time) error {
	d, _, err := db.CreateDeploy(ctx, gohere.Deploy{Service: "checkout", Env: "prod", Version: fmt.Sprintf("v1.0.%d", i),
		BaselineVersion: "v0.9", Author: "alice", StartedAt: at,
		Changes: []gohere.Change{{Commit: "abc", Author: "alice", Title: fmt.Sprintf("change %d", i)}}}, "")
	if err != nil {
		return err
	}
	a, err := db.CreateAnalysis(ctx, store.Analysis{DeployID: d.ID, Config: "{}", Service: d.Service, Env: d.Env,
		BaselineVersion: "v0.9", CanaryVersion: d.Version, StartAt: at, EndAt: at.Add(10 * time.Minute),
		NextDueAt: at, CreatedAt: at})
	if err != nil {
		return err
	}
	for seq := 1; seq <= 2; seq++ {
		c, found, err := db.ClaimDueAnalysis(ctx, fmt.Sprint("runner", i), at.Add(time.Hour), time.Minute)
		if err != nil || !found {
			return fmt.Errorf("claim interval %d: found %v, %w", seq, found, err)
		}
		p := store.Progress{State: store.AnalysisRunning, NextDueAt: at}
		if seq == 2 {
			p = store.Progress{State: store.AnalysisAwaitingDecision}
		}
		end := at.Add(time.Duration(seq) * 5 * time.Minute)
		if err := db.RecordInterval(ctx, c.Lease, store.Interval{Seq: seq, Start: at, End: end, BaselineStart: at, BaselineEnd: end,
			Queries: json.RawMessage(`[]`), Report: failingReport, Verdict: gohere.VerdictFail, JudgedAt: end}, p); err != nil {
			return fmt.Errorf("record interval %d: %w", seq, err)
		}
	}
	kind, reason, status := gohere.DecisionApprove, "", gohere.StatusSucceeded
	if i%2 == 1 {
		kind, reason, status = gohere.DecisionHalt, "latency", gohere.StatusRolledBack
	}
	if _, err := db.Decide(ctx, a.ID, gohere.Decision{Kind: kind, Actor: "bob", Reason: reason, Source: gohere.SourceAPI,
		DecidedAt: at.Add(11 * time.Minute)}); err != nil {
		return err
	}
	_, err = db.FinishDeploy(ctx, d.ID, status, at.Add(12*time.Minute))
	return err
}

// canaryVersion finds the version runCanary gave a deploy in a message.
var canaryVersion = regexp.MustCompile(`\bv1\.0\.\d+\b`)

// generic is the part of a plain-JSON post this test reads.
type generic struct {
	ID     string `json:"id"`
	Event  string `json:"event"`
	Deploy struct {
		ID      string `json:"id"`
		Version string `json:"version"`
	} `json:"deploy"`
}

// TestEveryStateChangeArrivesOnceInOrderThroughOutages: 50 canaries go
// through their five state changes while the chat first answers 503, then
// hangs past the worker's timeout, then recovers. Afterwards each deploy's
// five messages arrived exactly once, in order, at both destinations.
func TestEveryStateChangeArrivesOnceInOrderThroughOutages(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		chat := chattest.New(t)
		slackDest := notify.Destination{URL: chat.URL + "/services/T000/B000/secret", Format: notify.FormatSlack}
		genericDest := notify.Destination{URL: chat.URL + "/generic", Format: notify.FormatGeneric}
		w, err := notify.New(notify.Options{
			Queue: db, Reader: db, Defaults: []notify.Destination{slackDest, genericDest},
			Timeout: time.Second, Poll: 20 * time.Millisecond,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		defer func() {
			cancel()
			<-done
		}()

		const deploys = 50
		at := time.Now().Add(-time.Hour).Truncate(time.Second)
		for i := range deploys {
			switch i {
			case 10:
				chat.Fail(http.StatusServiceUnavailable)
			case 25:
				chat.Hang()
			case 38:
				// Held posts end with 503, not accepted: accepting one as
				// its sender times out would be a message delivered twice
				// by design (the 2xx lost), not by a bug.
				chat.Fail(http.StatusServiceUnavailable)
			case 40:
				chat.Accept()
			}
			if err := runCanary(ctx, db, i, at); err != nil {
				t.Fatalf("canary %d: %v", i, err)
			}
			w.Kick()
			time.Sleep(10 * time.Millisecond)
		}
		waitDrained(t, db)
		if chat.Refused() == 0 {
			t.Fatal("the chat never failed a post: the outage did not happen")
		}

		byDeploy := map[string][]string{}
		slackCount := map[string]int{}
		for _, m := range chat.Messages() {
			if m.Path == "/generic" {
				var g generic
				if err := json.Unmarshal(m.Body, &g); err != nil {
					t.Fatalf("generic post: %v: %s", err, m.Body)
				}
				byDeploy[g.Deploy.Version] = append(byDeploy[g.Deploy.Version], g.Event)
				if !strings.HasPrefix(g.ID, g.Deploy.ID+"/"+g.Event) {
					t.Errorf("generic post id %q does not name deploy %s and event %s", g.ID, g.Deploy.ID, g.Event)
				}
				continue
			}
			if v := canaryVersion.FindString(m.Text()); v != "" {
				slackCount[v]++
			}
		}
		want := allEvents
		for i := range deploys {
			v := fmt.Sprintf("v1.0.%d", i)
			if got := byDeploy[v]; !slices.Equal(got, want) {
				t.Errorf("deploy %s: generic events %v; want %v once each, in order", v, got, want)
			}
			if slackCount[v] != len(want) {
				t.Errorf("deploy %s: %d Slack messages; want %d", v, slackCount[v], len(want))
			}
		}
	})
}

// TestPermanentRefusalIsDroppedOnce: a webhook the chat answers 404 (a
// deleted one) gets each message once, is not retried, and holds nothing
// back; the error never shows the URL's secret.
func TestPermanentRefusalIsDroppedOnce(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		chat := chattest.New(t)
		chat.Fail(http.StatusNotFound)
		var logs strings.Builder
		w, err := notify.New(notify.Options{
			Queue: db, Reader: db,
			Defaults: []notify.Destination{{URL: chat.URL + "/services/T000/B000/s3cr3t", Format: notify.FormatSlack}},
			Logger:   slogTo(&logs), MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		at := time.Now().Add(-time.Hour)
		d, _, err := db.CreateDeploy(ctx, gohere.Deploy{Service: "checkout", Env: "prod", Version: "v2", StartedAt: at}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.FinishDeploy(ctx, d.ID, gohere.StatusSucceeded, at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if _, err := w.DeliverDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := chat.Refused(); got != 2 {
			t.Errorf("the chat was asked %d times; want 2 (started, finished), each once", got)
		}
		if n, _, _ := db.NotificationStats(ctx, time.Now()); n != 0 {
			t.Errorf("%d notifications pending; want none after a permanent refusal", n)
		}
		if strings.Contains(logs.String(), "s3cr3t") || strings.Contains(logs.String(), "/services/") {
			t.Errorf("the log shows the webhook's secret:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "404") {
			t.Errorf("the log does not say why the message was dropped:\n%s", logs.String())
		}
	})
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestReplicasTellEachOnce: three replicas' workers share one database
// while 30 canaries go through their state changes; every message arrives
// once, in order per deploy.
func TestReplicasTellEachOnce(t *testing.T) {
	enginesDSN(t, func(t *testing.T, db *store.DB, dsn string) {
		chat := chattest.New(t)
		ctx, cancel := context.WithCancel(t.Context())
		var running sync.WaitGroup
		defer func() {
			cancel()
			running.Wait()
		}()
		for range 3 {
			w, err := notify.New(notify.Options{
				Queue: openDB(t, dsn), Reader: openDB(t, dsn),
				Defaults: []notify.Destination{{URL: chat.URL + "/generic", Format: notify.FormatGeneric}},
				Poll:     5 * time.Millisecond, Batch: 3,
			})
			if err != nil {
				t.Fatal(err)
			}
			running.Go(func() { w.Run(ctx) })
		}
		const deploys = 30
		at := time.Now().Add(-time.Hour).Truncate(time.Second)
		for i := range deploys {
			if err := runCanary(ctx, db, i, at); err != nil {
				t.Fatalf("canary %d: %v", i, err)
			}
		}
		waitDrained(t, db)
		events := map[string][]string{}
		for _, m := range chat.Messages() {
			var g generic
			if err := json.Unmarshal(m.Body, &g); err != nil {
				t.Fatal(err)
			}
			events[g.Deploy.Version] = append(events[g.Deploy.Version], g.Event)
		}
		for i := range deploys {
			v := fmt.Sprintf("v1.0.%d", i)
			if got := events[v]; !slices.Equal(got, allEvents) {
				t.Errorf("deploy %s: events %v; want %v once each, in order", v, got, allEvents)
			}
		}
	})
}

// allEvents are the state changes runCanary goes through, in order.
var allEvents = []string{"started", "failing", "verdict", "decided", "finished"}

// waitDrained waits until no notification is pending.
func waitDrained(t *testing.T, db *store.DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, _, err := db.NotificationStats(t.Context(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notifications still pending after 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
