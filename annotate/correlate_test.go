package annotate_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
)

var alertAt = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func dep(id, env string, stage gohere.Stage, started, finished time.Duration, titles ...string) gohere.Deploy {
	d := gohere.Deploy{ID: id, Service: "checkout", Env: env, Version: "v-" + id, Stage: stage,
		Status: gohere.StatusRunning, StartedAt: alertAt.Add(started), Author: "alice", MergedBy: "bob"}
	if finished != 0 {
		d.Status, d.FinishedAt = gohere.StatusSucceeded, alertAt.Add(finished)
	}
	for _, t := range titles {
		d.Changes = append(d.Changes, gohere.Change{Commit: "abc", Title: t})
	}
	return d
}

func ids(cs []gohere.Correlation) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.DeployID)
	}
	return out
}

func TestCorrelate(t *testing.T) {
	alert := gohere.Alert{Name: "HighLatency", Service: "checkout", Env: "prod", StartsAt: alertAt}
	for _, tc := range []struct {
		name    string
		deploys []gohere.Deploy
		want    []string
	}{
		{"finished 59 min before", []gohere.Deploy{dep("a", "prod", gohere.StageFull, -80*time.Minute, -59*time.Minute)}, []string{"a"}},
		{"finished 61 min before", []gohere.Deploy{dep("a", "prod", gohere.StageFull, -80*time.Minute, -61*time.Minute)}, nil},
		{"finished exactly at the window's edge", []gohere.Deploy{dep("a", "prod", gohere.StageFull, -80*time.Minute, -60*time.Minute)}, []string{"a"}},
		{"running since yesterday", []gohere.Deploy{dep("a", "prod", gohere.StageFull, -24*time.Hour, 0)}, []string{"a"}},
		{"finished after the alert started", []gohere.Deploy{dep("a", "prod", gohere.StageCanary, -10*time.Minute, 5*time.Minute)}, []string{"a"}},
		{"started after the alert", []gohere.Deploy{dep("a", "prod", gohere.StageCanary, time.Minute, 0)}, nil},
		{"other env", []gohere.Deploy{dep("a", "staging", gohere.StageCanary, -time.Minute, 0)}, nil},
		{"overlapping: canary first, then the newest, finished after running, DARK last", []gohere.Deploy{
			dep("old-finished", "prod", gohere.StageFull, -50*time.Minute, -40*time.Minute),
			dep("dark-canary", "prod", gohere.StageCanary, -2*time.Minute, 0, "DARK new checkout flow"),
			dep("new-finished", "prod", gohere.StageFull, -30*time.Minute, -20*time.Minute),
			dep("running-full", "prod", gohere.StageFull, -3*time.Hour, 0),
			dep("canary", "prod", gohere.StageCanary, -7*time.Minute, 0, "DARK flag", "fix the cart"),
		}, []string{"canary", "running-full", "new-finished", "old-finished", "dark-canary"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := annotate.Correlate(alert, tc.deploys, annotate.DefaultCorrelationWindow)
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("correlated %v, want %v", ids(got), tc.want)
			}
			for i, c := range got {
				if c.Rank != i+1 || c.Score < 0 || c.Score > 1 || c.Reason == "" || c.Author != "alice" || c.MergedBy != "bob" {
					t.Errorf("correlation %d: %+v", i, c)
				}
			}
		})
	}
	noAuthor := dep("n", "prod", gohere.StageCanary, -time.Minute, 0, "fix")
	noAuthor.Author, noAuthor.Changes[0].Author = "", "carol"
	if got := annotate.Correlate(alert, []gohere.Deploy{noAuthor}, time.Hour); len(got) != 1 || got[0].Author != "carol" {
		t.Errorf("a deploy without an author: %+v; want its change's author carol", got)
	}
	if got := annotate.Correlate(gohere.Alert{Name: "X", StartsAt: alertAt}, []gohere.Deploy{dep("a", "", gohere.StageCanary, -time.Minute, 0)}, time.Hour); len(got) != 0 {
		t.Errorf("an alert without a service correlated with %v", ids(got))
	}
}

func TestCorrelationReasons(t *testing.T) {
	alert := gohere.Alert{Name: "HighLatency", Service: "checkout", Env: "prod", StartsAt: alertAt}
	got := annotate.Correlate(alert, []gohere.Deploy{
		dep("c", "prod", gohere.StageCanary, -7*time.Minute, 0),
		dep("f", "prod", gohere.StageFull, -90*time.Minute, -75*time.Minute+20*time.Minute),
		dep("d", "prod", gohere.StageCanary, -30*time.Second, 0, "DARK payments v2"),
	}, time.Hour)
	want := []string{
		"alert started 7 min after canary v-c of checkout began, while it was running",
		"alert started 55 min after deploy v-f of checkout finished succeeded",
		"alert started 30 s after DARK canary v-d of checkout began, while it was running",
	}
	for i, c := range got {
		if i >= len(want) || c.Reason != want[i] {
			t.Errorf("reason %d = %q, want %q", i, c.Reason, want[min(i, len(want)-1)])
		}
	}
	if !got[2].Dark || got[2].Rank != 3 || got[2].Score > got[0].Score/5 {
		t.Errorf("the DARK canary: %+v; want dark, ranked last, scored a fraction of the plain canary", got[2])
	}
	if got[0].Score <= got[1].Score {
		t.Errorf("the running canary scores %v, not above the deploy finished 55 min before (%v)", got[0].Score, got[1].Score)
	}
}
