package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"

	"github.com/gohere/gohere"
)

// Client calls one gohere server with one token.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the server at serverURL (e.g. http://127.0.0.1:8080).
func New(serverURL, token string, timeout time.Duration) (*Client, error) {
	if serverURL == "" {
		return nil, gohere.Errorf(gohere.Invalid, "no server: set --server or GOHERE_SERVER")
	}
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, gohere.Errorf(gohere.Invalid, "server %q: want an http(s) URL", serverURL)
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{
		base:  u,
		token: token,
		http: &http.Client{Timeout: timeout, Transport: otelhttp.NewTransport(http.DefaultTransport,
			// The W3C header is what joins the server's spans to the CI job's trace,
			// whatever global propagator the process has (none, in the CLI).
			otelhttp.WithPropagators(propagation.TraceContext{}))},
	}, nil
}

// DeployView is a deploy as the API returns it, with its links.
type DeployView struct {
	gohere.Deploy
	GoHereURL string `json:"go_here_url"`
	ReportURL string `json:"report_url"`
	// AnalysisSkipped, in the answer of StartDeploy only, says why the
	// server's canary template started no analysis.
	AnalysisSkipped string `json:"analysis_skipped,omitempty"`
}

// StartRequest is the body of POST /api/v1/deploys.
type StartRequest struct {
	Service         string          `json:"service"`
	Env             string          `json:"env"`
	Version         string          `json:"version"`
	BaselineVersion string          `json:"baseline_version,omitempty"`
	Stage           string          `json:"stage,omitempty"`
	Commit          string          `json:"commit,omitempty"`
	Author          string          `json:"author,omitempty"`
	MergedBy        string          `json:"merged_by,omitempty"`
	PR              string          `json:"pr,omitempty"`
	Changes         []gohere.Change `json:"changes,omitempty"`
	// StartedAt records a deploy after the fact; zero: the server's now.
	StartedAt time.Time `json:"started_at,omitzero"`
	// CommitTime is when the newest commit was made, for the lead time
	// for changes; zero: unknown.
	CommitTime     time.Time `json:"commit_time,omitzero"`
	IdempotencyKey string    `json:"-"`
	// AnalysisConfig is a canary config (YAML or JSON) whose analysis the
	// server starts with the deploy, in the same request.
	AnalysisConfig string `json:"analysis_config,omitempty"`
}

// StartDeploy records a new deploy.
func (c *Client) StartDeploy(ctx context.Context, req StartRequest) (DeployView, error) {
	var out DeployView
	h := http.Header{}
	if req.IdempotencyKey != "" {
		h.Set("Idempotency-Key", req.IdempotencyKey)
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/deploys", nil, h, req, &out)
	return out, err
}

// FinishDeploy closes a deploy with a final status, finished now.
func (c *Client) FinishDeploy(ctx context.Context, id string, status gohere.Status) (DeployView, error) {
	return c.FinishDeployAt(ctx, id, status, time.Time{})
}

// FinishDeployAt closes a deploy that finished at a given time (zero: the
// server's now), for deploys recorded after the fact.
func (c *Client) FinishDeployAt(ctx context.Context, id string, status gohere.Status, at time.Time) (DeployView, error) {
	var out DeployView
	body := struct {
		Status     gohere.Status `json:"status"`
		FinishedAt time.Time     `json:"finished_at,omitzero"`
	}{status, at}
	err := c.do(ctx, http.MethodPost, "/api/v1/deploys/"+url.PathEscape(id)+"/finish", nil, nil, body, &out)
	return out, err
}

// ListDeploys returns deploys newest first.
func (c *Client) ListDeploys(ctx context.Context, f gohere.DeployFilter) ([]DeployView, error) {
	q := url.Values{}
	if f.Service != "" {
		q.Set("service", f.Service)
	}
	if f.Env != "" {
		q.Set("env", f.Env)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Deploys []DeployView `json:"deploys"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/deploys", q, nil, nil, &out)
	return out.Deploys, err
}

// GetDeploy returns one deploy.
func (c *Client) GetDeploy(ctx context.Context, id string) (DeployView, error) {
	var out DeployView
	err := c.do(ctx, http.MethodGet, "/api/v1/deploys/"+url.PathEscape(id), nil, nil, nil, &out)
	return out, err
}

// do sends in as JSON (nil: no body) and decodes the JSON answer into out
// (nil: ignored).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, h http.Header, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = b
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Content-Type", "application/json")
	}
	return c.send(ctx, method, path, q, h, body, out)
}

// send sends body as is with the headers h (which say its content type).
func (c *Client) send(ctx context.Context, method, path string, q url.Values, h http.Header, body []byte, out any) error {
	u := c.base.JoinPath(path)
	u.RawQuery = q.Encode()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return gohere.Errorf(gohere.Invalid, "%s %s: %w", method, path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// The URL error repeats the server address, which is fine; it never holds the token.
		return gohere.Errorf(gohere.Unavailable, "%s %s: server unreachable: %w", method, path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return gohere.Errorf(gohere.Unavailable, "%s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return apiError(method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return gohere.Errorf(gohere.Unavailable, "%s %s: malformed response: %w", method, path, err)
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// apiError turns an error response into a gohere error of the matching kind.
func apiError(method, path string, status int, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	// A body that is not gohere's JSON (a proxy's HTML page) is cut short;
	// gohere's own message may list many problems of a canary config.
	msg, limit := strings.TrimSpace(string(body)), 300
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg, limit = e.Error, 8<<10
	}
	if len(msg) > limit {
		msg = strings.ToValidUTF8(msg[:limit], "") + "…"
	}
	return gohere.Errorf(gohere.KindOfStatus(status), "%s %s: %d %s: %s", method, path, status, http.StatusText(status), msg)
}
