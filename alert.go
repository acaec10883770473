package gohere

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AlertStatus is whether an alert still fires.
type AlertStatus string

const (
	AlertFiring   AlertStatus = "firing"
	AlertResolved AlertStatus = "resolved"
)

// Alert is one alert as an alerting system (Alertmanager, Grafana) sent it,
// mapped to the service and env gohere knows it by. An alert is the same
// alert across resends while its source, fingerprint and start stay.
type Alert struct {
	ID          int64             `json:"id"`
	Source      string            `json:"source"` // alertmanager, grafana
	Fingerprint string            `json:"fingerprint"`
	Name        string            `json:"name"` // the alertname label
	Status      AlertStatus       `json:"status"`
	Service     string            `json:"service,omitempty"` // "" when no label names one
	Env         string            `json:"env,omitempty"`
	Severity    string            `json:"severity,omitempty"`
	Summary     string            `json:"summary,omitempty"` // the summary or description annotation
	Labels      map[string]string `json:"labels"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at,omitzero"` // zero while firing
	// GeneratorURL links to the alert's source (the rule's query).
	GeneratorURL string    `json:"generator_url,omitempty"`
	ReceivedAt   time.Time `json:"received_at"`
	// Correlations are the deploys that may have caused it, best first;
	// empty when none ran around its start.
	Correlations []Correlation `json:"correlations"`
}

// Critical reports whether the alert's severity says it pages.
func (a Alert) Critical() bool {
	switch strings.ToLower(a.Severity) {
	case "critical", "page", "emergency", "p1":
		return true
	}
	return false
}

// Correlation links an alert to a deploy that ran around its start.
type Correlation struct {
	DeployID string  `json:"deploy_id"`
	Rank     int     `json:"rank"`  // 1 is the most likely cause
	Score    float64 `json:"score"` // 0 to 1
	// Reason says why, for people: "alert started 7 min after canary
	// v1.5.0 of checkout began".
	Reason string `json:"reason"`
	// Dark: every change of the deploy is DARK (code that does not run
	// yet), so it is an unlikely cause.
	Dark bool `json:"dark"`
	// Of the deploy, for messages and pages.
	Version  string `json:"version"`
	Stage    Stage  `json:"stage"`
	Author   string `json:"author,omitempty"`
	MergedBy string `json:"merged_by,omitempty"`
}

// DarkPrefix starts the title of a change whose code does not run yet.
const DarkPrefix = "DARK"

// Dark reports whether every change of d is DARK (and it has some).
func (d Deploy) Dark() bool { return d.AllTitled(DarkPrefix) }

// AllTitled reports whether d has changes and every one's title starts
// with the word prefix.
func (d Deploy) AllTitled(prefix string) bool {
	if len(d.Changes) == 0 {
		return false
	}
	for _, c := range d.Changes {
		if !Titled(c.Title, prefix) {
			return false
		}
	}
	return true
}

// Titled reports whether title starts with the word prefix: "DARK: new
// flow" and "DARK new flow" do, "DARKMODE for all" does not.
func Titled(title, prefix string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSpace(title), prefix)
	if !ok || rest == "" {
		return ok
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
}
