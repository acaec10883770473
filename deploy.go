package gohere

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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
	// CommitTime is when the newest commit of the deploy was made, for the
	// lead time for changes; zero when the pipeline did not say.
	CommitTime time.Time `json:"commit_time,omitzero"`
	// Judgement is the newest canary analysis of the deploy; nil when it
	// has none. The store fills it in on every read.
	Judgement *Judgement `json:"judgement,omitempty"`
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

// NameAlphabet is what names (service, env, version, ids, actors) are made
// of, as ValidateName's errors say it: letters and digits of any script
// (combining marks included) and the ASCII punctuation of versions, paths
// and addresses. Nothing that splits tags (, :), ends or escapes a string
// (quotes, \), means something in PromQL ({ } ( ) [ ] |) or HTML (< > &).
const NameAlphabet = "letters, digits and . _ - / + @ # ~ ="

// namePunct is NameAlphabet's ASCII punctuation.
const namePunct = "._-/+@#~="

// ValidateName checks a value that becomes part of a Grafana tag
// ("service:checkout"), a link and a PromQL label value: a comma splits
// tags, a colon splits key and value, a backslash or a quote breaks links
// and queries, and invisible or reordering characters (line and paragraph
// separators, bidi overrides, zero-width spaces) make a name look like
// another. Only NameAlphabet is allowed, in valid UTF-8.
func ValidateName(field, v string) error {
	if v == "" {
		return Errorf(Invalid, "%s is required", field)
	}
	if len(v) > MaxNameLen {
		return Errorf(Invalid, "%s is %d bytes long; at most %d", field, len(v), MaxNameLen)
	}
	if !utf8.ValidString(v) {
		return Errorf(Invalid, "%s %q is not valid UTF-8; use %s", field, v, NameAlphabet)
	}
	if i := strings.IndexFunc(v, badNameRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return Errorf(Invalid, "%s %q: character %q (%U) is not allowed; use %s", field, v, r, r, NameAlphabet)
	}
	return nil
}

// invisible reports letters and marks that render as nothing: Hangul
// fillers, the combining grapheme joiner and variation selectors.
func invisible(r rune) bool {
	switch {
	case r == '\u115f', r == '\u1160', r == '\u3164', r == '\uffa0', r == '\u034f':
		return true
	case r >= '\u180b' && r <= '\u180d', r >= '\ufe00' && r <= '\ufe0f', r >= 0xe0100 && r <= 0xe01ef:
		return true
	}
	return false
}

func badNameRune(r rune) bool {
	if r < utf8.RuneSelf {
		alnum := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
		return !alnum && !strings.ContainsRune(namePunct, r)
	}
	// Letters, combining marks and decimal digits of any script; no symbols,
	// spaces, controls (U+0085), separators (U+2028, U+2029) or format
	// characters (bidi overrides U+202A-202E and U+2066-2069, zero-width
	// U+200B-200D, U+FEFF).
	ok := unicode.IsLetter(r) || unicode.In(r, unicode.Mn, unicode.Mc) || unicode.Is(unicode.Nd, r)
	return !ok || invisible(r)
}

// validateText checks a free-text field: optional, bounded, one line of
// valid UTF-8 that displays in the order it is stored.
func validateText(field, v string, limit int) error {
	if len(v) > limit {
		return Errorf(Invalid, "%s is %d bytes long; at most %d", field, len(v), limit)
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError) {
		// encoding/json turns invalid UTF-8 into U+FFFD: refuse that too.
		return Errorf(Invalid, "%s is not valid UTF-8", field)
	}
	if strings.ContainsFunc(v, badTextRune) {
		return Errorf(Invalid, "%s must be one line without control characters or bidi overrides", field)
	}
	return nil
}

func badTextRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069')
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
	// Status keeps only the deploys of one status; "": any.
	Status Status
	// Before keeps only the deploys after it in the list's order (newest
	// start first, then id): the next page. nil: from the newest.
	Before *DeployCursor
}

// DeployCursor is a place in the list of deploys: a deploy's start and id,
// which order deploys that started at the same instant.
type DeployCursor struct {
	StartedAt time.Time
	ID        string
}
