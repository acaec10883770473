package client_test

import (
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/client"
)

// TestGate follows a deploy's gate from its verdict to a decision: the long
// poll returns as soon as the decision is made, not after its wait, and bad
// requests come back as errors of the right kind.
func TestGate(t *testing.T) {
	sc, rec, at, url := startHealthy(t)
	ci, err := client.New(url, ciToken, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	human, err := client.New(url, humanToken, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ci.StartDeploy(t.Context(), client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary, BaselineVersion: sc.Baseline})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ci.StartDeploy(t.Context(), client.StartRequest{Service: "cart", Env: "prod", Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	start, end := rec.Window(at)
	a, err := ci.StartAnalysis(t.Context(), d.ID, sc.Config, start, end)
	if err != nil {
		t.Fatal(err)
	}
	var g client.Gate
	for deadline := time.Now().Add(30 * time.Second); g.AnalysisState != "awaiting_decision"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gate still %+v after 30s", g)
		}
		if g, err = ci.Gate(t.Context(), d.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	if g.State != "waiting" || g.Settled || g.DeployID != d.ID || g.AnalysisID != a.ID || g.Verdict != gohere.VerdictPass ||
		g.Intervals != 6 || g.Decision != nil || g.ReportURL == "" {
		t.Errorf("gate after the verdict: %+v; want waiting for a decision on a Pass after 6 intervals", g)
	}

	type answer struct {
		g    client.Gate
		err  error
		took time.Duration
	}
	polled := make(chan answer, 1)
	go func() {
		t0 := time.Now()
		g, err := ci.WithTimeout(30*time.Second).Gate(t.Context(), d.ID, 20*time.Second)
		polled <- answer{g, err, time.Since(t0)}
	}()
	time.Sleep(200 * time.Millisecond) // the poll is waiting
	if _, err := human.Decide(t.Context(), a.ID, gohere.DecisionApprove, "all green"); err != nil {
		t.Fatal(err)
	}
	r := <-polled
	if r.err != nil {
		t.Fatal(r.err)
	}
	if dec := r.g.Decision; r.g.State != "promote" || !r.g.Settled || dec == nil || dec.Kind != gohere.DecisionApprove ||
		dec.Actor != "alice" || dec.Reason != "all green" || dec.Source != gohere.SourceAPI {
		t.Errorf("long poll answered %+v (decision %+v); want promote, approved by alice via the api", r.g, dec)
	}
	if r.took > 10*time.Second {
		t.Errorf("long poll took %s; want an answer as soon as the decision was made", r.took)
	}

	// A request that may not take as long as its wait fails as
	// unreachable (so gate retries it); the client it came from keeps its
	// own timeout.
	d2, err := ci.StartDeploy(t.Context(), client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary, BaselineVersion: sc.Baseline})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ci.StartAnalysis(t.Context(), d2.ID, sc.Config, start, end); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); g.DeployID != d2.ID || g.AnalysisState != "awaiting_decision"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gate of the second deploy still %+v after 30s", g)
		}
		if g, err = ci.Gate(t.Context(), d2.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ci.WithTimeout(300*time.Millisecond).Gate(t.Context(), d2.ID, 5*time.Second); gohere.KindOf(err) != gohere.Unavailable {
		t.Errorf("a 300ms request waiting 5s: %v (kind %v); want a timeout, Unavailable", err, gohere.KindOf(err))
	}
	t0 := time.Now()
	if g, err := ci.Gate(t.Context(), d2.ID, time.Second); err != nil || g.Settled || time.Since(t0) < time.Second {
		t.Errorf("an unchanged gate answered %+v, %v after %s; want the same waiting answer after the 1s wait", g, err, time.Since(t0))
	}

	for _, tc := range []struct {
		name string
		call func() error
		want gohere.Kind
	}{
		{"unknown deploy", func() error { _, err := ci.Gate(t.Context(), "no-such-deploy", 0); return err }, gohere.NotFound},
		{"no analysis", func() error { _, err := ci.Gate(t.Context(), plain.ID, 0); return err }, gohere.NotFound},
		{"wait over the cap", func() error { _, err := ci.Gate(t.Context(), plain.ID, 2*time.Minute); return err }, gohere.Invalid},
		{"ci token decides", func() error {
			_, err := ci.Decide(t.Context(), a.ID, gohere.DecisionHalt, "no")
			return err
		}, gohere.Forbidden},
		{"approve again", func() error {
			_, err := human.Decide(t.Context(), a.ID, gohere.DecisionApprove, "twice")
			return err
		}, gohere.Conflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := gohere.KindOf(err); got != tc.want {
				t.Errorf("got %v (kind %v); want kind %v", err, got, tc.want)
			}
		})
	}
}
