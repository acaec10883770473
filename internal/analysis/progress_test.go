package analysis

import (
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

func TestProgress(t *testing.T) {
	p := plan{start: t0, end: mins(4), interval: time.Minute, n: 4, marginal: 75, autoPromote: judge.PromoteNever}
	promote := p
	promote.autoPromote = judge.PromoteOnPass
	halt := p
	halt.autoHalt = judge.HaltOnFail
	held := halt
	held.holdEarlyFail = true // a sequential look that rejected nothing
	for _, tc := range []struct {
		name    string
		p       plan
		seq     int
		verdict gohere.Verdict
		score   float64
		broken  bool
		want    store.AnalysisState
	}{
		{"pass goes on", p, 1, gohere.VerdictPass, 100, false, store.AnalysisRunning},
		{"marginal above the threshold goes on", p, 2, gohere.VerdictMarginal, 80, false, store.AnalysisRunning},
		{"marginal at the threshold stops", p, 2, gohere.VerdictMarginal, 75, false, store.AnalysisFailedEarly},
		{"fail stops", p, 1, gohere.VerdictFail, 0, false, store.AnalysisFailedEarly},
		{"no data never stops early", p, 1, gohere.VerdictNoData, 0, false, store.AnalysisRunning},
		{"a failing last interval waits for a human", p, 4, gohere.VerdictFail, 10, false, store.AnalysisAwaitingDecision},
		{"a passing last interval waits for a human", p, 4, gohere.VerdictPass, 100, false, store.AnalysisAwaitingDecision},
		{"on_pass approves a pass", promote, 4, gohere.VerdictPass, 100, false, store.AnalysisApproved},
		{"on_pass leaves a marginal to a human", promote, 4, gohere.VerdictMarginal, 90, false, store.AnalysisAwaitingDecision},
		{"on_pass leaves no data to a human", promote, 4, gohere.VerdictNoData, 0, false, store.AnalysisAwaitingDecision},
		{"on_fail halts an early fail", halt, 1, gohere.VerdictFail, 0, false, store.AnalysisHalted},
		{"on_fail halts a failing last interval", halt, 4, gohere.VerdictFail, 10, false, store.AnalysisHalted},
		{"on_fail leaves a marginal last interval to a human", halt, 4, gohere.VerdictMarginal, 80, false, store.AnalysisAwaitingDecision},
		{"on_fail leaves no data to a human", halt, 4, gohere.VerdictNoData, 0, false, store.AnalysisAwaitingDecision},
		{"a sequential fail without a rejection goes on", held, 1, gohere.VerdictFail, 0, false, store.AnalysisRunning},
		{"its last look still decides", held, 4, gohere.VerdictFail, 0, false, store.AnalysisHalted},
		{"broken ends in error", p, 2, gohere.VerdictNoData, 0, true, store.AnalysisError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iv := store.Interval{Seq: tc.seq, Verdict: tc.verdict, Score: tc.score, JudgedAt: mins(5)}
			got := progress(tc.p, iv, tc.broken)
			if got.State != tc.want {
				t.Errorf("state %s, want %s", got.State, tc.want)
			}
			if got.State.Active() != !got.NextDueAt.IsZero() {
				t.Errorf("state %s with next due %v", got.State, got.NextDueAt)
			}
			if got.State == store.AnalysisRunning && !got.NextDueAt.Equal(p.due(tc.seq+1)) {
				t.Errorf("next due %v, want %v", got.NextDueAt, p.due(tc.seq+1))
			}
			if got.State == store.AnalysisFailedEarly && got.Verdict != gohere.VerdictFail {
				t.Errorf("stopped early with run verdict %q, want Fail", got.Verdict)
			}
			if (got.Decision != nil) != (tc.want == store.AnalysisApproved || tc.want == store.AnalysisHalted) {
				t.Errorf("decision %+v for state %s", got.Decision, got.State)
			}
		})
	}
}
