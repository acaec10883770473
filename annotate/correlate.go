package annotate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gohere/gohere"
)

// DefaultCorrelationWindow is how long after a deploy finished an alert of
// its service may still be its doing: "if it's within an hour of a deploy
// to the complaining service, page whoever wrote the diff".
const DefaultCorrelationWindow = time.Hour

// Correlate ranks the deploys that may have caused alert a: those of its
// service and env that were running when it started, or finished within
// window before. A deploy still in canary ranks first, then the most
// recent start; a deploy of only DARK changes (code that does not run yet)
// or only configuration ranks last (see FastLane). deploys may hold others (other services, later starts,
// older finishes): they are left out. An alert without a service
// correlates with nothing.
func Correlate(a gohere.Alert, deploys []gohere.Deploy, window time.Duration) []gohere.Correlation {
	if a.Service == "" || a.StartsAt.IsZero() {
		return nil
	}
	type candidate struct {
		d       gohere.Deploy
		running bool // at the alert's start
		score   float64
	}
	var cs []candidate
	for _, d := range deploys {
		if d.Service != a.Service || d.Env != a.Env || d.StartedAt.After(a.StartsAt) {
			continue
		}
		running := d.FinishedAt.IsZero() || !d.FinishedAt.Before(a.StartsAt)
		if !running && a.StartsAt.Sub(d.FinishedAt) > window {
			continue
		}
		cs = append(cs, candidate{d: d, running: running, score: score(a, d, running, window)})
	}
	slices.SortStableFunc(cs, func(x, y candidate) int {
		if c := cmp.Compare(rankClass(x.d, x.running), rankClass(y.d, y.running)); c != 0 {
			return c
		}
		if c := y.d.StartedAt.Compare(x.d.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(x.d.ID, y.d.ID)
	})
	out := make([]gohere.Correlation, 0, len(cs))
	for i, c := range cs {
		out = append(out, gohere.Correlation{
			DeployID: c.d.ID, Rank: i + 1, Score: c.score, Reason: reason(a, c.d, c.running), Dark: c.d.Dark(),
			Version: c.d.Version, Stage: c.d.Stage, Author: author(c.d), MergedBy: c.d.MergedBy,
		})
	}
	return out
}

// author is who wrote the deploy's diff: its author, else its first
// change's.
func author(d gohere.Deploy) string {
	if d.Author == "" && len(d.Changes) > 0 {
		return d.Changes[0].Author
	}
	return d.Author
}

// rankClass orders the kinds of candidate: a canary running at the alert's
// start, another running deploy, a finished one, and any of the fast lane
// (DARK or config-only) last.
func rankClass(d gohere.Deploy, running bool) int {
	switch {
	case FastLane(d):
		return 3
	case running && d.Stage == gohere.StageCanary:
		return 0
	case running:
		return 1
	}
	return 2
}

// score is how likely the deploy caused the alert, 0 to 1: a running
// deploy 1, fading to 0.5 as its start recedes over the window; a finished
// one from 0.5 down to 0 at the window's end; a DARK or config-only one a
// tenth of that.
func score(a gohere.Alert, d gohere.Deploy, running bool, window time.Duration) float64 {
	fade := func(since time.Duration) float64 {
		return max(0, 1-float64(since)/float64(window))
	}
	s := 0.5 * fade(a.StartsAt.Sub(d.FinishedAt))
	if running {
		s = 0.5 + 0.5*fade(a.StartsAt.Sub(d.StartedAt))
	}
	if FastLane(d) {
		s /= 10
	}
	return math.Round(s*1000) / 1000
}

// reason says why, for people: "alert started 7 min after canary v1.5.0
// of checkout began".
func reason(a gohere.Alert, d gohere.Deploy, running bool) string {
	what := "deploy"
	if d.Stage == gohere.StageCanary {
		what = "canary"
	}
	switch {
	case d.Dark():
		what = "DARK " + what
	case ConfigOnly(d):
		what = "config-only " + what
	}
	subject := fmt.Sprintf("%s %s of %s", what, d.Version, d.Service)
	if running {
		return fmt.Sprintf("alert started %s after %s began, while it was running", minutes(a.StartsAt.Sub(d.StartedAt)), subject)
	}
	return fmt.Sprintf("alert started %s after %s finished %s", minutes(a.StartsAt.Sub(d.FinishedAt)), subject, d.Status)
}

// minutes reads a duration the way people say it: "45 s", "7 min", "2 h 5 min".
func minutes(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}
