package client_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/replay"
)

const (
	ciToken    = "ci-secret-0123456789abcdef"
	humanToken = "human-secret-0123456789abcdef"
)

// startServer runs a real gohere server on SQLite whose analyses query a
// replay of the scenario placed at start.
func startServer(t *testing.T, rec *replay.Recording, start time.Time) string {
	t.Helper()
	tokens, err := auth.Parse("ci:ci:" + ciToken + ",human:alice:" + humanToken)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), app.Options{DB: filepath.Join(t.TempDir(), "gohere.db"), Listen: "127.0.0.1:0",
		Tokens: tokens, Source: replay.New(replay.Placement{Recording: rec, Start: start})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := errors.Join(<-done, a.Close()); err != nil {
			t.Error(err)
		}
	})
	return a.URL()
}

// startHealthy serves the healthy fixture's recording placed an hour ago.
func startHealthy(t *testing.T) (fixtures.Scenario, *replay.Recording, time.Time, string) {
	t.Helper()
	sc, err := fixtures.Load("healthy")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := replay.Load(sc.Name)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Truncate(time.Hour).Add(-time.Hour)
	return sc, rec, at, startServer(t, rec, at)
}

// TestAnalyses starts a retrospective analysis of the healthy fixture
// through the API and follows it to its verdict; bad requests come back as
// errors of the right kind.
func TestAnalyses(t *testing.T) {
	sc, rec, at, url := startHealthy(t)
	ci, err := client.New(url, ciToken, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ci.StartDeploy(t.Context(), client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary, BaselineVersion: sc.Baseline})
	if err != nil {
		t.Fatal(err)
	}
	start, end := rec.Window(at)
	a, err := ci.StartAnalysis(t.Context(), d.ID, sc.Config, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.DeployID != d.ID || !a.Retrospective || !a.StartAt.Equal(start) || !a.EndAt.Equal(end) {
		t.Errorf("created %+v; want a retrospective analysis of deploy %s from %s to %s", a, d.ID, start, end)
	}
	if a.Config != string(sc.Config) {
		t.Errorf("stored config differs from the YAML sent (comments and all):\n%s", a.Config)
	}

	deadline := time.Now().Add(30 * time.Second)
	for a.Active() {
		if time.Now().After(deadline) {
			t.Fatalf("analysis still %s after 30s", a.State)
		}
		time.Sleep(20 * time.Millisecond)
		if a, err = ci.GetAnalysis(t.Context(), a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if a.State != "awaiting_decision" || a.Verdict != gohere.VerdictPass || len(a.Intervals) != 6 {
		t.Errorf("finished %s with %s after %d intervals; want awaiting_decision, Pass, 6", a.State, a.Verdict, len(a.Intervals))
	}
	for _, iv := range a.Intervals {
		if iv.Error != "" || len(iv.Report) == 0 {
			t.Errorf("interval %d: error %q, %d bytes of report; want a report", iv.Seq, iv.Error, len(iv.Report))
		}
	}

	human, err := client.New(url, humanToken, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want gohere.Kind
	}{
		{"bad config", func() error {
			_, err := ci.StartAnalysis(t.Context(), d.ID, []byte("metrics: [\n"), start, end)
			return err
		}, gohere.Invalid},
		{"end before start", func() error {
			_, err := ci.StartAnalysis(t.Context(), d.ID, sc.Config, end, start)
			return err
		}, gohere.Invalid},
		{"unknown deploy", func() error {
			_, err := ci.StartAnalysis(t.Context(), "no-such-deploy", sc.Config, start, end)
			return err
		}, gohere.NotFound},
		{"human token", func() error {
			_, err := human.StartAnalysis(t.Context(), d.ID, sc.Config, start, end)
			return err
		}, gohere.Forbidden},
		{"unknown analysis", func() error {
			_, err := ci.GetAnalysis(t.Context(), "no-such-analysis")
			return err
		}, gohere.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := gohere.KindOf(err); got != tc.want {
				t.Errorf("got %v (kind %v); want kind %v", err, got, tc.want)
			}
		})
	}
}
