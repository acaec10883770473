package gohere

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Stage is how far a deploy has rolled out.
type Stage string

const (
	StageCanary Stage = "canary"
	StageFull   Stage = "full"
)

// Status is where a deploy's life stands. Only StatusRunning is open.
type Status string

const (
	StatusRunning    Status = "running"
	StatusSucceeded  Status = "succeeded"
	StatusFailed     Status = "failed"
	StatusHalted     Status = "halted"
	StatusRolledBack Status = "rolled_back"
)

// FinalStatuses are the statuses a deploy may be finished with.
var FinalStatuses = []Status{StatusSucceeded, StatusFailed, StatusHalted, StatusRolledBack}

// ParseFinalStatus accepts a status a deploy may be finished with.
func ParseFinalStatus(s string) (Status, error) {
	st := Status(s)
	if !slices.Contains(FinalStatuses, st) {
		return "", Errorf(Invalid, "status %q: want one of succeeded, failed, halted, rolled_back", s)
	}
	return st, nil
}

// ParseStage accepts a stage name; empty means canary.
func ParseStage(s string) (Stage, error) {
	switch Stage(s) {
	case "":
		return StageCanary, nil
	case StageCanary, StageFull:
		return Stage(s), nil
	}
	return "", Errorf(Invalid, "stage %q: want canary or full", s)
}

// Change is one commit that a deploy ships.
type Change struct {
	Commit string `json:"commit"`
	Author string `json:"author"`
	Title  string `json:"title"`
}

// Deploy is one rollout of one version of a service to one environment.
type Deploy struct {
	ID              string    `json:"id"`
	Service         string    `json:"service"`
	Env             string    `json:"env"`
	Version         string    `json:"version"`
	BaselineVersion string    `json:"baseline_version"` // empty: the service's first deploy there
	Stage           Stage     `json:"stage"`
	Status          Status    `json:"status"`
	Commit          string    `json:"commit,omitempty"`
	Author          string    `json:"author,omitempty"`
	MergedBy        string    `json:"merged_by,omitempty"`
	PR              string    `json:"pr,omitempty"`
	Changes         []Change  `json:"changes"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at,omitzero"` // zero while running
}

// Running reports whether the deploy has not been finished yet.
func (d Deploy) Running() bool { return d.Status == StatusRunning }

// Field length limits: generous for real use, small enough that a Grafana tag
// or an annotation text stays readable.
const (
	MaxNameLen   = 128 // service, env, version, commit, author, merged_by
	MaxTitleLen  = 512
	MaxURLLen    = 2048
	MaxChanges   = 500
	MaxReasonLen = 2048
)

// ValidateName checks a value that becomes part of a Grafana tag
// ("service:checkout"): a comma splits tags, a colon splits key and value,
// and control characters break the annotation text.
func ValidateName(field, v string) error {
	if v == "" {
		return Errorf(Invalid, "%s is required", field)
	}
	if len(v) > MaxNameLen {
		return Errorf(Invalid, "%s is %d bytes long; at most %d", field, len(v), MaxNameLen)
	}
	if i := strings.IndexFunc(v, badNameRune); i >= 0 {
		return Errorf(Invalid, "%s %q: character %q is not allowed (no commas, colons, spaces or control characters)", field, v, v[i:i+1])
	}
	return nil
}

func badNameRune(r rune) bool {
	return r == ',' || r == ':' || r == ' ' || r < 0x20 || r == 0x7f || r == '"' || r == '\''
}

// validateText checks a free-text field: optional, bounded, one line.
func validateText(field, v string, limit int) error {
	if len(v) > limit {
		return Errorf(Invalid, "%s is %d bytes long; at most %d", field, len(v), limit)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Errorf(Invalid, "%s must be one line without control characters", field)
	}
	return nil
}

// Validate checks everything a client supplies for a new deploy and returns
// the first problem as an Invalid error.
func (d Deploy) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"service", d.Service}, {"env", d.Env}, {"version", d.Version},
	} {
		if err := ValidateName(f.name, f.v); err != nil {
			return err
		}
	}
	if d.BaselineVersion != "" {
		if err := ValidateName("baseline_version", d.BaselineVersion); err != nil {
			return err
		}
	}
	if _, err := ParseStage(string(d.Stage)); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"commit", d.Commit}, {"author", d.Author}, {"merged_by", d.MergedBy},
	} {
		if err := validateText(f.name, f.v, MaxNameLen); err != nil {
			return err
		}
	}
	if err := validateText("pr", d.PR, MaxURLLen); err != nil {
		return err
	}
	if len(d.Changes) > MaxChanges {
		return Errorf(Invalid, "%d changes; at most %d", len(d.Changes), MaxChanges)
	}
	for i, c := range d.Changes {
		if c.Commit == "" {
			return Errorf(Invalid, "changes[%d]: commit is required", i)
		}
		for _, f := range []struct {
			name, v string
			limit   int
		}{{"commit", c.Commit, MaxNameLen}, {"author", c.Author, MaxNameLen}, {"title", c.Title, MaxTitleLen}} {
			if err := validateText(fmt.Sprintf("changes[%d].%s", i, f.name), f.v, f.limit); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseChange reads the CLI form SHA:AUTHOR:TITLE (the title may contain colons).
func ParseChange(s string) (Change, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 || parts[0] == "" {
		return Change{}, Errorf(Invalid, "change %q: want SHA:AUTHOR:TITLE", s)
	}
	c := Change{Commit: parts[0], Author: parts[1]}
	if len(parts) == 3 {
		c.Title = parts[2]
	}
	return c, nil
}

// DeployFilter selects deploys for listings; zero fields match everything.
type DeployFilter struct {
	Service string
	Env     string
	Since   time.Time
	Until   time.Time
	Limit   int // 0: the default of the caller
}
