package server

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/store"
)

// AnalysisStore keeps canary analyses (*store.DB).
type AnalysisStore interface {
	CreateAnalysis(ctx context.Context, a store.Analysis) (store.Analysis, error)
	// CreateDeployWithAnalysis records a deploy and the analysis it starts
	// with in one transaction (see createDeploy).
	CreateDeployWithAnalysis(ctx context.Context, d gohere.Deploy, idempotencyKey string, a store.Analysis) (_ gohere.Deploy, created bool, err error)
	GetAnalysis(ctx context.Context, id string) (store.Analysis, error)
	analysisLister
}

// analysisLister reads a deploy's analyses for its page: every interval as
// a row, the evidence of the latest one only.
type analysisLister interface {
	ListAnalyses(ctx context.Context, deployID string) ([]store.Analysis, error)
	GetAnalysisSummary(ctx context.Context, id string) (store.Analysis, error)
}

// configTypes are the media types a canary config may be posted as; the
// config loader reads YAML, of which JSON is a subset.
var configTypes = map[string]bool{
	"application/json": true, "application/yaml": true, "application/x-yaml": true,
	"text/yaml": true, "text/x-yaml": true,
}

// createAnalysis starts the canary analysis of a deploy. The body is the
// canary config; optional start and end (RFC 3339) query parameters place
// the analysis window, an end in the past making it retrospective.
func (s *Server) createAnalysis(c *gin.Context) {
	if s.opts.Analyses == nil {
		s.apiError(c, gohere.Errorf(gohere.Unavailable, "this server runs no analyses: start it with --prometheus-url"))
		return
	}
	config, err := readConfig(c)
	if err != nil {
		s.apiError(c, err)
		return
	}
	start, err := timeParam(c, "start")
	if err != nil {
		s.apiError(c, err)
		return
	}
	end, err := timeParam(c, "end")
	if err != nil {
		s.apiError(c, err)
		return
	}
	ctx := c.Request.Context()
	d, err := s.opts.Store.GetDeploy(ctx, c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	a, err := analysis.Prepare(d, config, start, end, time.Now())
	if err != nil {
		s.apiError(c, err)
		return
	}
	if a, err = s.opts.Analyses.CreateAnalysis(ctx, a); err != nil {
		s.apiError(c, err)
		return
	}
	s.opts.OnAnalysisCreated()
	c.JSON(http.StatusCreated, a)
}

func (s *Server) getAnalysis(c *gin.Context) {
	if s.opts.Analyses == nil {
		s.apiError(c, gohere.Errorf(gohere.NotFound, "analysis %s not found: this server runs no analyses", c.Param("id")))
		return
	}
	a, err := s.opts.Analyses.GetAnalysis(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

func readConfig(c *gin.Context) ([]byte, error) {
	ct := c.GetHeader("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || !configTypes[mt] {
		return nil, gohere.Errorf(gohere.Invalid, "content type %q: send the canary config as application/yaml or application/json", ct)
	}
	tooLarge := gohere.Errorf(gohere.TooLarge, "canary config is larger than %d bytes", store.MaxConfigLen)
	if c.Request.ContentLength > store.MaxConfigLen {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, store.MaxConfigLen))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, tooLarge
	}
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "read canary config: %w", err)
	}
	if len(body) == 0 {
		return nil, gohere.Errorf(gohere.Invalid, "empty request body; want a canary config")
	}
	return body, nil
}

// timeParam reads an optional RFC 3339 query parameter; absent is zero.
func timeParam(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, gohere.Errorf(gohere.Invalid, "%s %q: want an RFC 3339 time like 2026-11-27T10:00:00Z", name, v)
	}
	return t, nil
}
