package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

// GateState is what a pipeline or rollout controller should do now.
type GateState string

const (
	GateWaiting GateState = "waiting"
	GatePromote GateState = "promote"
	GateHalt    GateState = "halt"
)

// MaxGateWait bounds ?wait= of a long poll.
const MaxGateWait = 60 * time.Second

// gatePoll is how often a long poll looks again for changes made by other
// replicas (this process's own decisions wake it at once).
const gatePoll = time.Second

// GateView is the body of GET /api/v1/deploys/{id}/gate: the verdict and
// decision of the deploy's newest analysis, and what they mean for the
// rollout. Settled: the answer can no longer change.
type GateView struct {
	State         GateState           `json:"state"`
	Settled       bool                `json:"settled"`
	DeployID      string              `json:"deploy_id"`
	DeployStatus  gohere.Status       `json:"deploy_status"`
	AnalysisID    string              `json:"analysis_id"`
	AnalysisState store.AnalysisState `json:"analysis_state"`
	Intervals     int                 `json:"intervals"` // judged so far
	Verdict       gohere.Verdict      `json:"verdict"`   // "" before the first interval
	Score         float64             `json:"score"`
	Reason        string              `json:"reason"` // why the latest interval got its verdict, one line
	Decision      *gohere.Decision    `json:"decision"`
	Detail        string              `json:"detail"` // what is awaited, for people
	ReportURL     string              `json:"report_url"`
}

// gateOf is the gate of deploy d whose newest analysis is a (its latest
// interval's evidence included). Only a decision promotes; a deploy that
// finished without one settles the gate: as a halt if it did not succeed,
// as still undecided if it did.
func gateOf(d gohere.Deploy, a store.Analysis, reportURL string) GateView {
	g := GateView{
		State: GateWaiting, DeployID: d.ID, DeployStatus: d.Status, AnalysisID: a.ID, AnalysisState: a.State,
		Intervals: len(a.Intervals), Verdict: a.Verdict, Score: a.Score, Reason: latestReason(a),
		Decision: a.Decision, Detail: describe(d, a), ReportURL: reportURL + "#analysis-" + url.PathEscape(a.ID),
	}
	switch {
	case a.Decision != nil && a.Decision.Kind == gohere.DecisionHalt:
		g.State, g.Settled = GateHalt, true
	case a.Decision != nil:
		g.State, g.Settled = GatePromote, true
	case !d.Running() && d.Status != gohere.StatusSucceeded:
		g.State, g.Settled = GateHalt, true
	case !d.Running():
		g.Settled = true
	}
	return g
}

// describe says in words where an analysis stands for its deploy; states
// never contradict: a finished deploy's undecided analysis is "not decided",
// not awaiting a decision nobody can make any more.
func describe(d gohere.Deploy, a store.Analysis) string {
	if dec := a.Decision; dec != nil {
		verb := map[gohere.DecisionKind]string{gohere.DecisionApprove: "approved", gohere.DecisionHalt: "halted"}[dec.Kind]
		s := fmt.Sprintf("%s by %s (%s)", verb, dec.Actor, dec.Source)
		if dec.Reason != "" {
			s += ": " + dec.Reason
		}
		return s
	}
	if !d.Running() {
		return fmt.Sprintf("not decided (deploy finished %s)", d.Status)
	}
	switch a.State {
	case store.AnalysisPending:
		return "waiting for the first interval, due " + when(a.NextDueAt)
	case store.AnalysisRunning:
		return fmt.Sprintf("judging: %d interval(s) judged, the next due %s", len(a.Intervals), when(a.NextDueAt))
	case store.AnalysisFailedEarly:
		return "awaiting a decision: stopped early, an interval failed"
	case store.AnalysisError:
		return "awaiting a decision: the analysis could not run: " + cmp.Or(a.LastError, latestReason(a), "see the report")
	}
	// The verdict and score stand beside this text wherever it is shown.
	return "awaiting a decision"
}

// latestReason is the one-line reason of the latest interval's verdict.
func latestReason(a store.Analysis) string {
	n := len(a.Intervals)
	if n == 0 {
		return ""
	}
	iv := a.Intervals[n-1]
	if iv.Error != "" {
		return iv.Error
	}
	var rep judge.Report
	if len(iv.Report) == 0 || json.Unmarshal(iv.Report, &rep) != nil {
		return ""
	}
	return strings.Join(rep.Reasons, "; ")
}

func (s *Server) gate(c *gin.Context) {
	wait, err := waitParam(c.Query("wait"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	ctx := c.Request.Context()
	g, err := s.gateView(ctx, c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	if wait > 0 && !g.Settled {
		g, err = s.waitForChange(ctx, g, time.Now().Add(wait))
		if err != nil {
			s.apiError(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, g)
}

func waitParam(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > MaxGateWait {
		return 0, gohere.Errorf(gohere.Invalid, "wait %q: want a duration from 0s to %s, such as 30s", v, MaxGateWait)
	}
	return d, nil
}

// waitForChange looks again until the gate differs from g or the deadline
// passes, and returns the latest answer.
func (s *Server) waitForChange(ctx context.Context, g GateView, deadline time.Time) (GateView, error) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return g, nil
		}
		timer.Reset(min(left, gatePoll))
		select {
		case <-ctx.Done():
			return g, gohere.Errorf(gohere.Unavailable, "gate: %w", ctx.Err())
		case <-s.draining:
			return g, nil
		case <-s.changes.wait():
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
		now, err := s.gateView(ctx, g.DeployID)
		if err != nil {
			return g, err
		}
		if gateChanged(g, now) {
			return now, nil
		}
	}
}

func gateChanged(a, b GateView) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) != string(jb)
}

// gateView reads the deploy and its newest analysis.
func (s *Server) gateView(ctx context.Context, deployID string) (GateView, error) {
	d, err := s.opts.Store.GetDeploy(ctx, deployID)
	if err != nil {
		return GateView{}, err
	}
	if d.Judgement == nil || s.opts.Analyses == nil {
		return GateView{}, gohere.Errorf(gohere.NotFound,
			"deploy %s has no canary analysis: start one with gohere analyze %s --config canary.yaml (or deploy start --analyze)", d.ID, d.ID)
	}
	a, err := s.opts.Analyses.GetAnalysisSummary(ctx, d.Judgement.AnalysisID)
	if err != nil {
		return GateView{}, fmt.Errorf("deploy %s: %w", d.ID, err)
	}
	return gateOf(d, a, s.opts.ReportURL(d)), nil
}
