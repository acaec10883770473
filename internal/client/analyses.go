package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/gohere/gohere"
)

// Analysis is a canary analysis as GET /api/v1/analyses/{id} returns it.
type Analysis struct {
	ID              string            `json:"id"`
	DeployID        string            `json:"deploy_id"`
	Config          string            `json:"config"`
	Service         string            `json:"service"`
	Env             string            `json:"env"`
	BaselineVersion string            `json:"baseline_version"`
	CanaryVersion   string            `json:"canary_version"`
	State           string            `json:"state"`
	Verdict         gohere.Verdict    `json:"verdict"` // of the latest interval; "" before the first
	Score           float64           `json:"score"`
	Retrospective   bool              `json:"retrospective"`
	StartAt         time.Time         `json:"start_at"`
	EndAt           time.Time         `json:"end_at"`
	LastError       string            `json:"last_error"`
	Decision        *gohere.Decision  `json:"decision"`  // the current one
	Decisions       []gohere.Decision `json:"decisions"` // the audit trail, oldest first
	Intervals       []Interval        `json:"intervals"`
}

// Interval is one judged interval of an analysis.
type Interval struct {
	Seq     int             `json:"seq"`
	Start   time.Time       `json:"start"`
	End     time.Time       `json:"end"`
	Verdict gohere.Verdict  `json:"verdict"`
	Score   float64         `json:"score"`
	Error   string          `json:"error"` // why it could not be judged
	Report  json.RawMessage `json:"report"`
}

// Active reports whether intervals are still to be judged (states pending
// and running).
func (a Analysis) Active() bool { return a.State == "pending" || a.State == "running" }

// StartAnalysis starts the canary analysis of a deploy with a canary config
// (YAML or JSON), stored as sent. Zero start and end let the server choose
// (now, and start + the config's lifetime); an end in the past makes the
// analysis retrospective, judged at once.
func (c *Client) StartAnalysis(ctx context.Context, deployID string, config []byte, start, end time.Time) (Analysis, error) {
	q := url.Values{}
	if !start.IsZero() {
		q.Set("start", start.UTC().Format(time.RFC3339))
	}
	if !end.IsZero() {
		q.Set("end", end.UTC().Format(time.RFC3339))
	}
	var out Analysis
	// Sent as is, not re-encoded: the stored config keeps its comments.
	err := c.send(ctx, http.MethodPost, "/api/v1/deploys/"+url.PathEscape(deployID)+"/analyses", q,
		http.Header{"Content-Type": {"application/yaml"}}, config, &out)
	return out, err
}

// GetAnalysis returns an analysis with every interval judged so far.
func (c *Client) GetAnalysis(ctx context.Context, id string) (Analysis, error) {
	var out Analysis
	err := c.do(ctx, http.MethodGet, "/api/v1/analyses/"+url.PathEscape(id), nil, nil, nil, &out)
	return out, err
}
