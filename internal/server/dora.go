package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
)

// DORAStore computes the four keys (*store.DB).
type DORAStore interface {
	DORA(ctx context.Context, service, env string, since, until time.Time) (store.DORA, error)
}

// DefaultDORAWindow is the window of the keys unless asked otherwise.
const DefaultDORAWindow = 30 * 24 * time.Hour

// maxDORAWindow bounds what one request may ask to aggregate.
const maxDORAWindow = 366 * 24 * time.Hour

// parseWindow reads a window such as 30d, 12h or 90m.
func parseWindow(v string) (time.Duration, error) {
	if v == "" {
		return DefaultDORAWindow, nil
	}
	d, err := time.ParseDuration(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	}
	if err != nil || d <= 0 || d > maxDORAWindow {
		return 0, gohere.Errorf(gohere.Invalid, "window %q: want a duration such as 30d, 7d or 12h, at most 366d", v)
	}
	return d, nil
}

// dora answers GET /api/v1/dora?service=&env=&window=30d: the four keys
// of the window that ends now.
func (s *Server) dora(c *gin.Context) {
	q := c.Request.URL.Query()
	if err := onlyParams(q, "service", "env", "window"); err != nil {
		s.apiError(c, err)
		return
	}
	window, err := parseWindow(q.Get("window"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	now := time.Now()
	k, err := s.opts.DORA.DORA(c.Request.Context(), q.Get("service"), q.Get("env"), now.Add(-window), now)
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, k)
}

// doraCache keeps Keys30's answers for a minute.
type doraCache struct {
	mu   sync.Mutex
	keys map[[2]string]cachedKeys
}

type cachedKeys struct {
	k  store.DORA
	at time.Time
}

// timelineKeys are the last 30 days' keys of service and env ("" any), or
// nil when they cannot be read (the timeline shows without them).
func (s *Server) timelineKeys(ctx context.Context, service, env string) *doraView {
	k, ok := s.Keys30(ctx, service, env)
	if !ok {
		return nil
	}
	return &doraView{k}
}

// Keys30 are the DORA keys of the last 30 days of service and env ("" any)
// for the timeline and /metrics, read at most once a minute each: they
// aggregate a month of deploys. ok is false without a DORA store or when
// they cannot be read (logged).
func (s *Server) Keys30(ctx context.Context, service, env string) (_ store.DORA, ok bool) {
	if s.opts.DORA == nil {
		return store.DORA{}, false
	}
	now := time.Now()
	id := [2]string{service, env}
	s.dora30.mu.Lock()
	defer s.dora30.mu.Unlock()
	if c, ok := s.dora30.keys[id]; ok && now.Sub(c.at) < time.Minute {
		return c.k, true
	}
	k, err := s.opts.DORA.DORA(ctx, service, env, now.Add(-DefaultDORAWindow), now)
	if err != nil {
		s.log.WarnContext(ctx, "DORA keys of the last 30 days", "err", err)
		return store.DORA{}, false
	}
	if s.dora30.keys == nil || len(s.dora30.keys) > 1000 {
		s.dora30.keys = map[[2]string]cachedKeys{} // bounded: filters are free text
	}
	s.dora30.keys[id] = cachedKeys{k, now}
	return k, true
}

// doraView formats the keys for people; an unknown key reads "—".
type doraView struct{ store.DORA }

func (v doraView) PerDay() string {
	if v.DeploysPerDay < 10 {
		return strconv.FormatFloat(v.DeploysPerDay, 'f', 2, 64) // a deploy a month is 0.03, not 0.0
	}
	return strconv.FormatFloat(v.DeploysPerDay, 'f', 1, 64)
}

// LeadTime is marked "≈" when it comes from the daily histograms.
func (v doraView) LeadTime() string {
	if v.LeadTimeApproximate {
		return "≈ " + humanSeconds(v.LeadTimeSeconds)
	}
	return humanSeconds(v.LeadTimeSeconds)
}

func (v doraView) Restore() string { return humanSeconds(v.TimeToRestoreSeconds) }

func (v doraView) FailureRate() string {
	if v.ChangeFailureRate == nil {
		return "—"
	}
	return strconv.FormatFloat(100**v.ChangeFailureRate, 'f', 1, 64) + " %"
}

// humanSeconds reads "3h 5m", "12m", "45s"; nil is "—".
func humanSeconds(s *float64) string {
	if s == nil {
		return "—"
	}
	d := time.Duration(*s * float64(time.Second)).Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
