package notify

import (
	"time"

	"github.com/gohere/gohere"
)

// Kind is the state change a message tells.
type Kind string

const (
	KindStarted  Kind = "started"  // the deploy began
	KindFailing  Kind = "failing"  // the analysis' first failing interval (or critical metric)
	KindVerdict  Kind = "verdict"  // the analysis run is over: verdict and score
	KindDecided  Kind = "decided"  // a human (or auto_promote/auto_halt) approved or halted
	KindFinished Kind = "finished" // the deploy ended: final status and duration
	KindAlert    Kind = "alert"    // an alert of the deploy's service fired while or soon after it ran
)

// Kinds lists every kind, in the order a deploy goes through them.
var Kinds = []Kind{KindStarted, KindFailing, KindVerdict, KindDecided, KindFinished}

// Event is one state change of a deploy and what a message about it says.
// The deploy is as read at delivery; what belongs to the moment of the
// change (the finish status, the decision, the failing interval) is kept
// with the event, so that a message delivered late still tells what
// happened then.
type Event struct {
	// ID identifies the event across retries and replicas,
	// "<deploy id>/<kind>[/<detail>]": receivers may drop repeats by it.
	ID     string
	Kind   Kind
	At     time.Time // when the change happened
	Deploy gohere.Deploy
	Links  Links
	// Analysis is the analysis the event is about (failing, verdict,
	// decided), nil otherwise.
	Analysis *Analysis
	// Decision is set for KindDecided.
	Decision *gohere.Decision
	// Status is the deploy's status the change set (KindFinished).
	Status gohere.Status
	// Failing lists the metrics that failed the interval (KindFailing),
	// worst first.
	Failing []FailingMetric
	// Alert is set for KindAlert: the alert with its correlations, the
	// first of which is Deploy.
	Alert *gohere.Alert
}

// Links are the pages a message points to; empty ones are left out.
type Links struct {
	GoHere string // side-by-side comparison of stable and new version
	Report string // the deploy's report page (Approve / Halt)
}

// Analysis is what a message tells of a canary analysis.
type Analysis struct {
	ID      string
	State   string // store.AnalysisState
	Verdict gohere.Verdict
	Score   float64
	// Reason is the judge's one-line reason for the verdict.
	Reason string
	// Seq is the interval the event is about (KindFailing), from 1.
	Seq int
	// AwaitsDecision: the run is over and nobody has approved or halted
	// yet (as of delivery).
	AwaitsDecision bool
}

// FailingMetric is one metric that failed an interval.
type FailingMetric struct {
	Name     string
	Label    string // judge.Label: High, Low, NoDataFail
	Critical bool   // a critical failure: the canary scores 0
	// Shift is the size of the change relative to the baseline (0.3: 30 %),
	// its direction is Label's; nil when undefined.
	Shift  *float64
	Reason string // the judge's sentence
}
