package gohere

import "time"

// Verdict is the judge's conclusion about a canary.
type Verdict string

const (
	VerdictPass     Verdict = "Pass"
	VerdictMarginal Verdict = "Marginal"
	VerdictFail     Verdict = "Fail"
	// VerdictNoData: there was not enough data to judge. Never a pass.
	VerdictNoData Verdict = "NoData"
)

// DecisionKind is what a human chose after reading the report.
type DecisionKind string

const (
	DecisionApprove DecisionKind = "approve"
	DecisionHalt    DecisionKind = "halt"
)

// Decision is a human's recorded choice; the actor comes from their token.
type Decision struct {
	Kind      DecisionKind `json:"decision"`
	Actor     string       `json:"actor"`
	Reason    string       `json:"reason"`
	DecidedAt time.Time    `json:"decided_at"`
}

// Alert is an alert received from Alertmanager or Grafana.
type Alert struct {
	Name        string            `json:"name"`
	Service     string            `json:"service"`
	Env         string            `json:"env,omitempty"`
	Status      string            `json:"status"` // firing | resolved
	StartsAt    time.Time         `json:"starts_at"`
	Labels      map[string]string `json:"labels,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
}
