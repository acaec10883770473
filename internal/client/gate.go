package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gohere/gohere"
)

// Gate is the answer of GET /api/v1/deploys/{id}/gate.
type Gate struct {
	State         string           `json:"state"` // waiting, promote or halt
	Settled       bool             `json:"settled"`
	DeployID      string           `json:"deploy_id"`
	DeployStatus  gohere.Status    `json:"deploy_status"`
	AnalysisID    string           `json:"analysis_id"`
	AnalysisState string           `json:"analysis_state"`
	Intervals     int              `json:"intervals"`
	Verdict       gohere.Verdict   `json:"verdict"`
	Score         float64          `json:"score"`
	Reason        string           `json:"reason"`
	Decision      *gohere.Decision `json:"decision"`
	Detail        string           `json:"detail"`
	ReportURL     string           `json:"report_url"`
}

// Gate returns the deploy's gate; a positive wait long-polls: the server
// answers as soon as anything changed, or after wait. The request's own
// timeout must leave room for the wait (see WithTimeout).
func (c *Client) Gate(ctx context.Context, deployID string, wait time.Duration) (Gate, error) {
	q := url.Values{}
	if wait > 0 {
		q.Set("wait", wait.Round(time.Millisecond).String())
	}
	var out Gate
	err := c.do(ctx, http.MethodGet, "/api/v1/deploys/"+url.PathEscape(deployID)+"/gate", q, nil, nil, &out)
	return out, err
}

// Decide records a person's decision about an analysis (a human or admin
// token; the actor is the token's name).
func (c *Client) Decide(ctx context.Context, analysisID string, kind gohere.DecisionKind, reason string) (Analysis, error) {
	var out Analysis
	body := struct {
		Decision gohere.DecisionKind `json:"decision"`
		Reason   string              `json:"reason,omitempty"`
	}{kind, reason}
	err := c.do(ctx, http.MethodPost, "/api/v1/analyses/"+url.PathEscape(analysisID)+"/decision", nil, nil, body, &out)
	return out, err
}

// WithTimeout returns a copy of the client whose requests may take d.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	h := *c.http
	h.Timeout = d
	cp.http = &h
	return &cp
}
