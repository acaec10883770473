package compare

import (
	"fmt"

	"github.com/gohere/gohere"
)

// ChooseBaseline returns the version d is compared with: d.BaselineVersion
// when given, otherwise the version of the newest deploy in earlier of the
// same service and env, of another version, that finished succeeded before
// d started. ok is false when there is none (the first deploy there, or
// none succeeded). A redeploy of the same version is compared with the one
// before it: a version compared with itself would pass any canary.
//
// "Finished before d started" keeps the answer stable: recomputing it later,
// when an overlapping deploy has since succeeded, gives what the server chose
// when d started.
func ChooseBaseline(d gohere.Deploy, earlier []gohere.Deploy) (version string, ok bool) {
	if d.BaselineVersion != "" {
		return d.BaselineVersion, true
	}
	var best *gohere.Deploy
	for i := range earlier {
		e := &earlier[i]
		if e.ID == d.ID || e.Service != d.Service || e.Env != d.Env || e.Version == d.Version || e.Status != gohere.StatusSucceeded {
			continue
		}
		if !e.StartedAt.Before(d.StartedAt) || (!e.FinishedAt.IsZero() && e.FinishedAt.After(d.StartedAt)) {
			continue
		}
		if best == nil || newer(e, best) {
			best = e
		}
	}
	if best == nil {
		return "", false
	}
	return best.Version, true
}

// newer orders by start, then id, so ties have one answer whatever the order
// of the input (the store's LastSucceeded orders the same way).
func newer(a, b *gohere.Deploy) bool {
	if !a.StartedAt.Equal(b.StartedAt) {
		return a.StartedAt.After(b.StartedAt)
	}
	return a.ID > b.ID
}

// Note returns what a reader of the link must know about the comparison, or
// "" when baseline and canary are two different versions.
func Note(d gohere.Deploy) string {
	switch d.BaselineVersion {
	case "":
		return fmt.Sprintf("first deploy of %s in %s: no baseline to compare with", d.Service, d.Env)
	case d.Version:
		return fmt.Sprintf("baseline and canary are both %s: the comparison shows one version twice", d.Version)
	}
	return ""
}
