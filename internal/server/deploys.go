package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
)

// MaxBodyBytes bounds a request body; larger ones get 413.
const MaxBodyBytes = 1 << 20

// maxClockSkew is how far in the future a client's start or finish time
// may be: clock skew, not a deploy that ends tomorrow.
const maxClockSkew = 5 * time.Minute

// maxStartAge is how far back a deploy recorded after the fact may have
// started; older ones are history to import, not deploys to compare.
const maxStartAge = 30 * 24 * time.Hour

// DeployView is a deploy as the API returns it, with its links.
type DeployView struct {
	gohere.Deploy
	GoHereURL string `json:"go_here_url"`
	ReportURL string `json:"report_url"`
	// AnalysisSkipped, in the answer of a create only, says why the canary
	// template of the deploy's service did not start an analysis.
	AnalysisSkipped string `json:"analysis_skipped,omitempty"`
}

// DeployList is the body of GET /api/v1/deploys.
type DeployList struct {
	Deploys []DeployView `json:"deploys"`
}

// CreateRequest is the body of POST /api/v1/deploys. Unknown fields are
// rejected.
type CreateRequest struct {
	Service         string          `json:"service"`
	Env             string          `json:"env"`
	Version         string          `json:"version"`
	BaselineVersion string          `json:"baseline_version"` // empty: the last succeeded deploy's version
	Stage           string          `json:"stage"`            // empty: canary
	Commit          string          `json:"commit"`
	Author          string          `json:"author"`
	MergedBy        string          `json:"merged_by"`
	PR              string          `json:"pr"`
	Changes         []gohere.Change `json:"changes"`
	// StartedAt records a deploy after the fact; nil: now. It may be at
	// most maxStartAge old and maxClockSkew ahead.
	StartedAt *time.Time `json:"started_at"`
	// CommitTime is when the deploy's newest commit was made (for the
	// DORA lead time); nil: unknown. Not after the start.
	CommitTime *time.Time `json:"commit_time"`
	// IdempotencyKey is the body form of the Idempotency-Key header.
	IdempotencyKey string `json:"idempotency_key"`
	// AnalysisConfig is a canary config (YAML or JSON text) whose analysis
	// starts with the deploy, recorded in the same transaction; checked
	// first, so a bad one is a 400 and no deploy. Empty: none, or the
	// server's canary template for a canary deploy.
	AnalysisConfig string `json:"analysis_config"`
}

// FinishRequest is the body of POST /api/v1/deploys/{id}/finish.
type FinishRequest struct {
	Status     string     `json:"status"`
	FinishedAt *time.Time `json:"finished_at"` // nil: now
}

func (s *Server) view(d gohere.Deploy) DeployView {
	return DeployView{Deploy: d, GoHereURL: s.opts.GoHereURL(d), ReportURL: s.opts.ReportURL(d)}
}

func (s *Server) createDeploy(c *gin.Context) {
	var req CreateRequest
	if err := decodeJSON(c, &req); err != nil {
		s.apiError(c, err)
		return
	}
	key, err := idempotencyKey(c.GetHeader("Idempotency-Key"), req.IdempotencyKey)
	if err != nil {
		s.apiError(c, err)
		return
	}
	stage, err := gohere.ParseStage(req.Stage)
	if err != nil {
		s.apiError(c, err)
		return
	}
	started, err := startTime(req.StartedAt, time.Now())
	if err != nil {
		s.apiError(c, err)
		return
	}
	d := gohere.Deploy{
		Service: req.Service, Env: req.Env, Version: req.Version, BaselineVersion: req.BaselineVersion,
		Stage: stage, Status: gohere.StatusRunning, Commit: req.Commit, Author: req.Author,
		MergedBy: req.MergedBy, PR: req.PR, Changes: req.Changes, StartedAt: started,
	}
	if req.CommitTime != nil {
		d.CommitTime = *req.CommitTime
	}
	if err := d.Validate(); err != nil {
		s.apiError(c, err)
		return
	}
	ctx := c.Request.Context()
	if d.BaselineVersion == "" {
		// Without a baseline the GO HERE link has nothing to compare with.
		last, found, err := s.opts.Store.LastSucceeded(ctx, d.Service, d.Env, d.Version, d.StartedAt)
		if err != nil {
			s.apiError(c, fmt.Errorf("baseline of %s/%s: %w", d.Service, d.Env, err))
			return
		}
		if found {
			d.BaselineVersion = last.Version
		}
	}
	a, analyze, skipped, err := s.analysisToStart(ctx, d, req.AnalysisConfig, time.Now())
	if err != nil {
		s.apiError(c, err)
		return
	}
	var created bool
	if analyze {
		d, created, err = s.opts.Analyses.CreateDeployWithAnalysis(ctx, d, key, a)
	} else {
		d, created, err = s.opts.Store.CreateDeploy(ctx, d, key)
	}
	if err != nil {
		s.apiError(c, err)
		return
	}
	status := http.StatusOK // a replay: the first deploy, unchanged
	if created {
		status = http.StatusCreated
		s.opts.Metrics.DeployRecorded(d.Env, string(d.Stage))
		s.opts.OnDeployChanged()
		if analyze {
			s.opts.OnAnalysisCreated()
		}
	}
	v := s.view(d)
	if d.Judgement == nil {
		v.AnalysisSkipped = skipped
	}
	c.JSON(status, v)
}

// startTime is a deploy's start: now, or the client's time within
// maxStartAge before now and maxClockSkew after.
func startTime(at *time.Time, now time.Time) (time.Time, error) {
	switch {
	case at == nil:
		return now, nil
	case at.After(now.Add(maxClockSkew)):
		return time.Time{}, gohere.Errorf(gohere.Invalid, "started_at %s is in the future", at.Format(time.RFC3339))
	case at.Before(now.Add(-maxStartAge)):
		return time.Time{}, gohere.Errorf(gohere.Invalid, "started_at %s is more than %d days ago", at.Format(time.RFC3339), maxStartAge/(24*time.Hour))
	}
	return *at, nil
}

// idempotencyKey takes the key from the header or the body; both may be
// given only if they agree.
func idempotencyKey(header, body string) (string, error) {
	if header != "" && body != "" && header != body {
		return "", gohere.Errorf(gohere.Invalid, "Idempotency-Key header and idempotency_key field differ")
	}
	if header != "" {
		return header, nil
	}
	return body, nil
}

func (s *Server) finishDeploy(c *gin.Context) {
	var req FinishRequest
	if err := decodeJSON(c, &req); err != nil {
		s.apiError(c, err)
		return
	}
	status, err := gohere.ParseFinalStatus(req.Status)
	if err != nil {
		s.apiError(c, err)
		return
	}
	// A person may stop a rollout; recording how it ended is the pipeline's.
	if id, _ := identity(c); !id.Role.CanWrite() && !(id.Role.CanDecide() && status == gohere.StatusHalted) {
		s.apiError(c, gohere.Errorf(gohere.Forbidden, "token %s (role %s) may only halt a deploy; finishing it %s needs a ci or admin token", id.Name, id.Role, status))
		return
	}
	now := time.Now()
	at := now
	if req.FinishedAt != nil {
		at = *req.FinishedAt
		if at.After(now.Add(maxClockSkew)) {
			s.apiError(c, gohere.Errorf(gohere.Invalid, "finished_at %s is in the future", at.Format(time.RFC3339)))
			return
		}
	}
	d, err := s.opts.Store.FinishDeploy(c.Request.Context(), c.Param("id"), status, at)
	if err != nil {
		s.apiError(c, err)
		return
	}
	s.opts.OnDeployChanged()
	c.JSON(http.StatusOK, s.view(d))
}

func (s *Server) getDeploy(c *gin.Context) {
	d, err := s.opts.Store.GetDeploy(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.view(d))
}

func (s *Server) listDeploys(c *gin.Context) {
	f, err := parseFilter(c.Request.URL.RawQuery)
	if err != nil {
		s.apiError(c, err)
		return
	}
	ds, err := s.opts.Store.ListDeploys(c.Request.Context(), f)
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := DeployList{Deploys: make([]DeployView, 0, len(ds))}
	for _, d := range ds {
		out.Deploys = append(out.Deploys, s.view(d))
	}
	body, err := json.Marshal(out)
	if err != nil {
		s.apiError(c, fmt.Errorf("deploys: encode the list: %w", err))
		return
	}
	// Tagged: a client polling the list gets 304 while nothing changed.
	newTagged("application/json; charset=utf-8", body).send(c)
}

var filterParams = []string{"service", "env", "since", "until", "limit"}

// parseFilter reads ?service=&env=&since=&until=&limit= strictly: an unknown
// or repeated parameter is an error rather than a silently wider listing.
func parseFilter(rawQuery string) (gohere.DeployFilter, error) {
	var f gohere.DeployFilter
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return f, gohere.Errorf(gohere.Invalid, "query: %w", err)
	}
	if err := onlyParams(q, filterParams...); err != nil {
		return f, err
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"service", &f.Service}, {"env", &f.Env}} {
		if v := q.Get(p.name); v != "" {
			if err := gohere.ValidateName(p.name, v); err != nil {
				return f, err
			}
			*p.dst = v
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, gohere.Errorf(gohere.Invalid, "%s %q: want an RFC 3339 time such as 2026-11-23T08:00:00Z", p.name, v)
			}
			*p.dst = t
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, gohere.Errorf(gohere.Invalid, "until %s is not after since %s", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, gohere.Errorf(gohere.Invalid, "limit %q: want a positive integer", v)
		}
		f.Limit = n
	}
	return f, nil
}

// decodeJSON reads one JSON object of at most MaxBodyBytes into v, strictly:
// unknown fields and trailing data are errors.
func decodeJSON(c *gin.Context, v any) error {
	ct := c.GetHeader("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return fmt.Errorf("content type %q: %w", ct, errMediaType)
	}
	tooLarge := gohere.Errorf(gohere.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
	if c.Request.ContentLength > MaxBodyBytes {
		return tooLarge
	}
	// Read whole, so that an error can name the field it is about.
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooLarge
	}
	if err != nil {
		return gohere.Errorf(gohere.Invalid, "read request body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		// Anything after the object is a second request glued to the first.
		var extra json.RawMessage
		if err = dec.Decode(&extra); err == nil {
			return gohere.Errorf(gohere.Invalid, "malformed JSON: data after the object")
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
	if errors.Is(err, io.EOF) {
		return gohere.Errorf(gohere.Invalid, "empty request body; want a JSON object")
	}
	return jsonError(err, body, v)
}
