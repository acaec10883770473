package analysis

import (
	"bytes"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

// Prepare checks a canary config for an analysis of deploy d and returns
// the analysis to create with store.DB.CreateAnalysis. A zero start means
// now; a zero end means start + the config's analysis.lifetime. An end not
// after now makes the analysis retrospective: every interval is due at
// once. Every problem of the config, its schedule and its query templates
// (resolved for both sides with the deploy's versions) is reported at once
// as an Invalid error.
func Prepare(d gohere.Deploy, config []byte, start, end, now time.Time) (store.Analysis, error) {
	cfg, err := judge.LoadConfig(bytes.NewReader(config))
	if err != nil {
		return store.Analysis{}, err
	}
	if start.IsZero() {
		start = now
	}
	if end.IsZero() {
		if cfg.Analysis == nil || cfg.Analysis.Lifetime <= 0 {
			return store.Analysis{}, gohere.Errorf(gohere.Invalid, "analysis.lifetime is required unless an end is given")
		}
		end = start.Add(time.Duration(cfg.Analysis.Lifetime))
	}
	if !end.After(start) {
		return store.Analysis{}, gohere.Errorf(gohere.Invalid, "analysis: end %s must come after start %s",
			end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	if _, err := newPlan(cfg, start, end); err != nil {
		return store.Analysis{}, err
	}
	qs, err := compile(cfg)
	if err != nil {
		return store.Analysis{}, err
	}
	a := store.Analysis{DeployID: d.ID, Config: string(config), Service: d.Service, Env: d.Env,
		BaselineVersion: d.BaselineVersion, CanaryVersion: d.Version,
		StartAt: start, EndAt: end, NextDueAt: start, Retrospective: !end.After(now), CreatedAt: now}
	if err := qs.check(target(a, cfg), concurrent(cfg)); err != nil {
		return store.Analysis{}, err
	}
	return a, nil
}
