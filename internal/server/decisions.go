package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/store"
)

// Decider records approve and halt decisions (*store.DB).
type Decider interface {
	Decide(ctx context.Context, analysisID string, d gohere.Decision) (store.Analysis, error)
}

// DecisionRequest is the body of POST /api/v1/analyses/{id}/decision. The
// actor is the token's name: a body cannot say who decided.
type DecisionRequest struct {
	Decision string `json:"decision"` // approve or halt
	Reason   string `json:"reason"`   // required for a halt
}

func parseDecisionKind(s string) (gohere.DecisionKind, error) {
	switch k := gohere.DecisionKind(strings.TrimSpace(s)); k {
	case gohere.DecisionApprove, gohere.DecisionHalt:
		return k, nil
	}
	return "", gohere.Errorf(gohere.Invalid, "decision %q: want approve or halt", s)
}

func (s *Server) decideAPI(c *gin.Context) {
	id, _ := identity(c)
	var req DecisionRequest
	if err := decodeJSON(c, &req); err != nil {
		s.apiError(c, err)
		return
	}
	a, err := s.decide(c.Request.Context(), c.Param("id"), id, req.Decision, req.Reason, gohere.SourceAPI)
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusCreated, a)
}

// decidePage takes the Approve / Halt form of the deploy page from a
// signed-in person and goes back to the page (post/redirect/get).
func (s *Server) decidePage(c *gin.Context) {
	deployID := c.Param("id")
	back := "/deploys/" + url.PathEscape(deployID)
	if err := s.checkForm(c); err != nil {
		s.formError(c, err, back)
		return
	}
	who, ok := s.viewer(c)
	if !ok {
		s.formError(c, gohere.Errorf(gohere.Unauthorized, "sign in with a human token to approve or halt"), back)
		return
	}
	analysisID := c.PostForm("analysis_id")
	ctx := c.Request.Context()
	if s.opts.Analyses == nil {
		s.formError(c, gohere.Errorf(gohere.NotFound, "analysis %s not found: this server runs no analyses", analysisID), back)
		return
	}
	// The form names the analysis; it must be one of this page's deploy.
	a, err := s.opts.Analyses.GetAnalysisSummary(ctx, analysisID)
	if err == nil && a.DeployID != deployID {
		err = gohere.Errorf(gohere.NotFound, "analysis %s: not an analysis of deploy %s", analysisID, deployID)
	}
	if err == nil {
		_, err = s.decide(ctx, analysisID, who, c.PostForm("decision"), c.PostForm("reason"), gohere.SourcePage)
	}
	if err != nil {
		s.formError(c, err, back)
		return
	}
	c.Redirect(http.StatusSeeOther, back+"#analysis-"+url.PathEscape(analysisID))
}

// decide records a person's decision about an analysis, wherever it was
// made, and tells whoever waits for it.
func (s *Server) decide(ctx context.Context, analysisID string, who auth.Identity, kind, reason string, src gohere.DecisionSource) (store.Analysis, error) {
	if !who.Role.CanDecide() {
		return store.Analysis{}, gohere.Errorf(gohere.Forbidden, "%s (role %s) may not decide: approve and halt need a human or admin token", who.Name, who.Role)
	}
	if s.opts.Decider == nil {
		return store.Analysis{}, gohere.Errorf(gohere.NotFound, "analysis %s not found: this server runs no analyses", analysisID)
	}
	k, err := parseDecisionKind(kind)
	if err != nil {
		return store.Analysis{}, err
	}
	a, err := s.opts.Decider.Decide(ctx, analysisID, gohere.Decision{
		Kind: k, Actor: who.Name, Reason: strings.TrimSpace(reason), Source: src, DecidedAt: time.Now(),
	})
	if err != nil {
		return store.Analysis{}, err
	}
	s.log.InfoContext(ctx, "decision", "analysis", analysisID, "deploy", a.DeployID, "decision", k, "actor", who.Name, "source", src)
	s.opts.OnDeployChanged()
	s.changes.notify()
	return a, nil
}

// changeBell wakes the long polls of this process when something they
// report changed here; other replicas' changes are seen by polling.
type changeBell struct {
	mu sync.Mutex
	ch chan struct{}
}

func newChangeBell() *changeBell { return &changeBell{ch: make(chan struct{})} }

// wait returns a channel closed at the next notify.
func (b *changeBell) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *changeBell) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}
