package gohere

import (
	"strings"
	"time"
)

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

// DecisionSource is where a decision was made.
type DecisionSource string

const (
	SourceAPI     DecisionSource = "api"     // POST /api/v1/analyses/{id}/decision
	SourcePage    DecisionSource = "page"    // the deploy page's Approve / Halt buttons
	SourceFlagger DecisionSource = "flagger" // a Flagger webhook
	SourceAuto    DecisionSource = "auto"    // auto_promote / auto_halt of the canary config
)

// Decision is one recorded choice about a canary; the actor comes from the
// token or session, never from a request body. Decisions are an append-only
// trail: a later halt overrides an earlier approve.
type Decision struct {
	Kind      DecisionKind   `json:"decision"`
	Actor     string         `json:"actor"`
	Reason    string         `json:"reason"`
	Source    DecisionSource `json:"source"`
	DecidedAt time.Time      `json:"decided_at"`
}

// Judgement is where the newest canary analysis of a deploy stands, as
// shown beside the deploy everywhere (API, pages, CLI, annotation).
type Judgement struct {
	AnalysisID string    `json:"analysis_id"`
	State      string    `json:"state"`             // the analysis state (store.AnalysisState)
	Verdict    Verdict   `json:"verdict,omitempty"` // "" before the first interval
	Score      float64   `json:"score"`
	Decision   *Decision `json:"decision,omitempty"` // the current decision; nil while undecided
}

// ValidateReason checks the reason given with a decision: one line of at
// most MaxReasonLen bytes, required for a halt (whoever reads the trail
// must learn why the rollout was stopped).
func ValidateReason(kind DecisionKind, reason string) error {
	if kind == DecisionHalt && strings.TrimSpace(reason) == "" {
		return Errorf(Invalid, "a halt needs a reason")
	}
	return validateText("reason", reason, MaxReasonLen)
}

// Over reports whether the analysis has judged its last interval (or was
// stopped), so that its verdict is the run's, not one interval's.
func (j Judgement) Over() bool { return j.State != "pending" && j.State != "running" }

// DecisionText says who decided what about the deploy's canary ("halt by
// bob"), or that a decision is awaited, or that none was made before the
// deploy finished; "" while there is nothing to decide yet.
func (d Deploy) DecisionText() string {
	j := d.Judgement
	switch {
	case j == nil:
		return ""
	case j.Decision != nil:
		return string(j.Decision.Kind) + " by " + j.Decision.Actor
	case !d.Running():
		return "not decided"
	case j.Over():
		return "awaiting decision"
	}
	return ""
}
