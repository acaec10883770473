package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/store"
)

// AlertStore keeps alerts and their correlations (*store.DB).
type AlertStore interface {
	RecordAlerts(ctx context.Context, alerts []gohere.Alert, window time.Duration, correlate store.Correlator) ([]store.RecordedAlert, error)
	ListAlerts(ctx context.Context, f store.AlertFilter) ([]gohere.Alert, error)
	DeployAlerts(ctx context.Context, deployID string) ([]gohere.Alert, error)
}

// AlertMapping says which alert labels name gohere's service and env, in
// order of preference, and how long after a deploy finished its service's
// alerts still correlate with it.
type AlertMapping struct {
	ServiceLabels []string // default service, app, job
	EnvLabels     []string // default env, environment
	Window        time.Duration
}

// DefaultAlertMapping is what an empty AlertMapping means.
var DefaultAlertMapping = AlertMapping{
	ServiceLabels: []string{"service", "app", "job"},
	EnvLabels:     []string{"env", "environment"},
	Window:        annotate.DefaultCorrelationWindow,
}

func (m AlertMapping) withDefaults() AlertMapping {
	if len(m.ServiceLabels) == 0 {
		m.ServiceLabels = DefaultAlertMapping.ServiceLabels
	}
	if len(m.EnvLabels) == 0 {
		m.EnvLabels = DefaultAlertMapping.EnvLabels
	}
	if m.Window <= 0 {
		m.Window = DefaultAlertMapping.Window
	}
	return m
}

// firstLabel is the value of the first of names that labels have.
func firstLabel(labels map[string]string, names []string) string {
	for _, n := range names {
		if v := strings.TrimSpace(labels[n]); v != "" {
			return v
		}
	}
	return ""
}

// webhookPayload is what Alertmanager (webhook version 4) and Grafana's
// unified alerting (version 1) post: groups of alerts, the same fields.
type webhookPayload struct {
	Version string         `json:"version"`
	Status  string         `json:"status"`
	Alerts  []webhookAlert `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// alertHook receives one alerting system's webhook: source names it,
// version is the payload version it sends.
func (s *Server) alertHook(source, version string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var p webhookPayload
		if err := decodeLenientJSON(c, &p); err != nil {
			s.apiError(c, err)
			return
		}
		alerts, err := s.alertsOf(source, version, p)
		if err != nil {
			s.apiError(c, err)
			return
		}
		m := s.opts.AlertMapping.withDefaults()
		recorded, err := s.opts.Alerts.RecordAlerts(c.Request.Context(), alerts, m.Window, annotate.Correlate)
		if err != nil {
			s.apiError(c, err)
			return
		}
		out := AlertHookAnswer{Alerts: make([]gohere.Alert, 0, len(recorded))}
		for _, r := range recorded {
			if r.New {
				out.New++
			}
			if len(r.Correlations) > 0 {
				out.Correlated++
			}
			out.Alerts = append(out.Alerts, r.Alert)
		}
		s.opts.OnDeployChanged()
		c.JSON(http.StatusOK, out)
	}
}

// AlertHookAnswer is the answer to an alert webhook.
type AlertHookAnswer struct {
	New        int            `json:"new"`        // alerts first seen now
	Correlated int            `json:"correlated"` // of all received, those with a deploy
	Alerts     []gohere.Alert `json:"alerts"`
}

// maxAlertsPerPayload bounds one webhook call; Alertmanager's max_alerts
// caps what it sends, and a group of thousands is no longer one incident.
const maxAlertsPerPayload = 1000

// alertsOf checks a whole payload and maps it to alerts; any problem
// refuses all of it, so that nothing is half recorded.
func (s *Server) alertsOf(source, version string, p webhookPayload) ([]gohere.Alert, error) {
	if p.Version != version {
		return nil, gohere.Errorf(gohere.Invalid, "%s webhook payload version %q: want %q", source, p.Version, version)
	}
	if len(p.Alerts) == 0 {
		return nil, gohere.Errorf(gohere.Invalid, "no alerts in the payload")
	}
	if len(p.Alerts) > maxAlertsPerPayload {
		return nil, gohere.Errorf(gohere.TooLarge, "%d alerts in one payload; at most %d", len(p.Alerts), maxAlertsPerPayload)
	}
	m := s.opts.AlertMapping.withDefaults()
	now := time.Now()
	var problems []string
	out := make([]gohere.Alert, 0, len(p.Alerts))
	for i, w := range p.Alerts {
		a, err := alertOf(source, w, m, now)
		if err != nil {
			problems = append(problems, fmt.Sprintf("alerts[%d]: %v", i, err))
			continue
		}
		out = append(out, a)
	}
	if len(problems) > 0 {
		return nil, gohere.Errorf(gohere.Invalid, "%s", strings.Join(problems, "; "))
	}
	return out, nil
}

func alertOf(source string, w webhookAlert, m AlertMapping, now time.Time) (gohere.Alert, error) {
	var problems []string
	name := strings.TrimSpace(w.Labels["alertname"])
	if name == "" {
		problems = append(problems, "labels.alertname is required")
	}
	status := gohere.AlertStatus(w.Status)
	if status != gohere.AlertFiring && status != gohere.AlertResolved {
		problems = append(problems, fmt.Sprintf("status %q: want firing or resolved", w.Status))
	}
	starts, err := alertTime(w.StartsAt)
	if err != nil || starts.IsZero() {
		problems = append(problems, fmt.Sprintf("startsAt %q: want an RFC 3339 time", w.StartsAt))
	}
	ends, err := alertTime(w.EndsAt)
	if err != nil {
		problems = append(problems, fmt.Sprintf("endsAt %q: want an RFC 3339 time", w.EndsAt))
	}
	if starts.After(now.Add(time.Hour)) {
		problems = append(problems, "startsAt is more than an hour in the future")
	}
	if len(problems) > 0 {
		return gohere.Alert{}, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	if status == gohere.AlertResolved && ends.IsZero() {
		ends = now
	}
	return gohere.Alert{
		Source: source, Fingerprint: fingerprint(w), Name: name, Status: status,
		Service: firstLabel(w.Labels, m.ServiceLabels), Env: firstLabel(w.Labels, m.EnvLabels),
		Severity: w.Labels["severity"], Summary: firstLabel(w.Annotations, []string{"summary", "description", "message"}),
		Labels: w.Labels, StartsAt: starts, EndsAt: ends, GeneratorURL: httpURL(w.GeneratorURL),
	}, nil
}

// alertTime parses an alert time; empty and Go's zero time (which
// Alertmanager sends for "no end") are zero.
func alertTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || t.Year() <= 1 {
		return time.Time{}, err
	}
	return t, nil
}

// fingerprint is the sender's, or one of the labels (sorted) when it sent
// none: the same alert always has the same one.
func fingerprint(w webhookAlert) string {
	if f := strings.TrimSpace(w.Fingerprint); f != "" {
		return f
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(w.Labels)) {
		fmt.Fprintf(h, "%s\x00%s\x00", k, w.Labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// httpURL is u when it is an http(s) URL, else "": it becomes a link.
func httpURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

// AlertList is the answer of the alert lists.
type AlertList struct {
	Alerts []gohere.Alert `json:"alerts"`
}

// listCorrelations answers GET /api/v1/correlations?service=&since=: the
// correlated alerts, newest first (since defaults to 7 days ago).
func (s *Server) listCorrelations(c *gin.Context) {
	q := c.Request.URL.Query()
	if err := onlyParams(q, "service", "since", "limit"); err != nil {
		s.apiError(c, err)
		return
	}
	f := store.AlertFilter{Service: q.Get("service"), Since: time.Now().Add(-7 * 24 * time.Hour), Correlated: true}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.apiError(c, gohere.Errorf(gohere.Invalid, "since %q: want an RFC 3339 time such as 2026-11-23T08:00:00Z", v))
			return
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.apiError(c, gohere.Errorf(gohere.Invalid, "limit %q: want a positive integer", v))
			return
		}
		f.Limit = n
	}
	as, err := s.opts.Alerts.ListAlerts(c.Request.Context(), f)
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, AlertList{Alerts: as})
}

// deployAlerts answers GET /api/v1/deploys/{id}/alerts.
func (s *Server) deployAlerts(c *gin.Context) {
	as, err := s.opts.Alerts.DeployAlerts(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, AlertList{Alerts: as})
}

// basicAsBearer lets an alerting system authenticate with basic auth, the
// token as password (what Alertmanager's http_config basic_auth sends),
// as well as with a bearer token.
func basicAsBearer(c *gin.Context) {
	if _, pass, ok := c.Request.BasicAuth(); ok {
		c.Request.Header.Set("Authorization", "Bearer "+pass)
	}
	c.Next()
}

// onlyParams refuses a query with a parameter not in known, or one given
// twice: a typo must not silently widen what is listed.
func onlyParams(q url.Values, known ...string) error {
	for k, vs := range q {
		if !slices.Contains(known, k) {
			return gohere.Errorf(gohere.Invalid, "unknown query parameter %q; want %s", k, strings.Join(known, ", "))
		}
		if len(vs) > 1 {
			return gohere.Errorf(gohere.Invalid, "query parameter %q given %d times", k, len(vs))
		}
	}
	return nil
}
