package server

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/notify"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/telemetry"
)

// DeployWriter records deploys; each call is one transaction.
type DeployWriter interface {
	CreateDeploy(ctx context.Context, d gohere.Deploy, idempotencyKey string) (_ gohere.Deploy, created bool, err error)
	FinishDeploy(ctx context.Context, id string, status gohere.Status, at time.Time) (gohere.Deploy, error)
}

// DeployReader reads deploys.
type DeployReader interface {
	GetDeploy(ctx context.Context, id string) (gohere.Deploy, error)
	ListDeploys(ctx context.Context, f gohere.DeployFilter) ([]gohere.Deploy, error)
	// LastSucceeded finds the default baseline of a new deploy.
	LastSucceeded(ctx context.Context, service, env, version string, before time.Time) (_ gohere.Deploy, found bool, err error)
}

// Pinger answers readiness probes.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Store is everything the server needs from the database.
type Store interface {
	DeployWriter
	DeployReader
	Pinger
}

// Options configure a Server. Store and Tokens are required.
type Options struct {
	Store   Store
	Tokens  *auth.Tokens
	Metrics *telemetry.Metrics // nil: a fresh set
	Logger  *slog.Logger       // nil: discard

	// PublicURL is how users reach this server (no trailing slash); the
	// default report link is PublicURL/deploys/<id>.
	PublicURL string
	GoHereURL func(gohere.Deploy) string // nil: deploys have no GO HERE link
	ReportURL func(gohere.Deploy) string // nil: PublicURL/deploys/<id>
	// OnDeployChanged runs after a create or finish has committed (it wakes
	// the annotation outbox worker); nil: nothing.
	OnDeployChanged func()

	// Analyses keeps canary analyses; nil: this server runs none (no
	// metric store configured) and the analysis API says so with 503.
	Analyses AnalysisStore
	// Decider records approve and halt decisions; nil: as without Analyses.
	Decider Decider
	// OnAnalysisCreated runs after an analysis was recorded (it wakes the
	// analysis runner); nil: nothing.
	OnAnalysisCreated func()
	// CanaryTemplates are canary configs by service name, the key
	// DefaultTemplate for every other service: each deploy of stage canary
	// recorded without a config of its own starts an analysis with its
	// service's template (see app.LoadCanaryTemplates). They need Analyses.
	CanaryTemplates map[string][]byte
	// Source is the Prometheus-compatible store the compare page graphs;
	// nil: the page says that no metric store is configured.
	Source MetricSource
	// CompareSignals are what the compare page draws; zero: compare.DefaultSignals.
	CompareSignals compare.SignalSet

	// Sessions keeps the sign-ins of the pages; nil: the Store's, if it
	// keeps them, else no token signs in (the login page says so).
	Sessions SessionStore
	// TrustedProxyHeader (e.g. X-Forwarded-User) names the person at the
	// browser when an SSO proxy inside TrustedProxyCIDRs sends it; from
	// any other peer the header is refused. HumanUsers maps those names
	// to roles (human or admin); a name not listed is nobody. Empty: no
	// proxy signs anyone in.
	TrustedProxyHeader string
	TrustedProxyCIDRs  []netip.Prefix
	HumanUsers         map[string]auth.Role

	// Alerts keeps alerts received at /hooks/alertmanager and
	// /hooks/grafana and their correlations with deploys; nil: no alert
	// hooks. AlertMapping maps their labels to services and envs.
	Alerts       AlertStore
	AlertMapping AlertMapping
	// DORA computes the four keys for /api/v1/dora and the timeline; nil:
	// none.
	DORA DORAStore

	// Trains keeps the push trains: /api/v1/trains, the /train page and,
	// with SlackSigningSecret, the slash command /hooks/slack/command; nil:
	// none. TrainCarSize bounds a car (default DefaultCarSize); ChatHandles
	// map chat member ids back to people; OnTrainChanged runs after a
	// change has committed (it wakes the train worker).
	Trains             TrainStore
	TrainCarSize       int
	SlackSigningSecret string
	ChatHandles        notify.Handles
	OnTrainChanged     func()

	// ChatInbox, when set, takes webhook posts at /demo/chat/hook and shows
	// them on /demo/chat: gohere demo's channel. Never in production: the
	// hook takes posts from anyone.
	ChatInbox *notify.Inbox
}

// MetricSource answers range queries (*prom.Client).
type MetricSource interface {
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error)
}

func (o *Options) validate() error {
	var errs []error
	if o.Store == nil {
		errs = append(errs, gohere.Errorf(gohere.Invalid, "server: no store"))
	}
	if o.Tokens.Len() == 0 {
		errs = append(errs, gohere.Errorf(gohere.Invalid, "server: no API tokens"))
	}
	if o.Metrics == nil {
		o.Metrics = telemetry.NewMetrics()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	if o.GoHereURL == nil {
		o.GoHereURL = func(gohere.Deploy) string { return "" }
	}
	if o.ReportURL == nil {
		public := o.PublicURL
		o.ReportURL = func(d gohere.Deploy) string { return public + "/deploys/" + url.PathEscape(d.ID) }
	}
	if o.OnDeployChanged == nil {
		o.OnDeployChanged = func() {}
	}
	if o.OnAnalysisCreated == nil {
		o.OnAnalysisCreated = func() {}
	}
	if o.OnTrainChanged == nil {
		o.OnTrainChanged = func() {}
	}
	errs = append(errs, o.validateTemplates())
	errs = append(errs, o.validateIdentity())
	return errors.Join(errs...)
}

// Server serves the API and the pages.
type Server struct {
	opts   Options
	log    *slog.Logger
	pages  *template.Template
	engine *gin.Engine
	// changes wakes gate long polls when this process records a decision.
	changes *changeBell
	// crossOrigin refuses page form posts that another site sent (checkForm).
	crossOrigin *http.CrossOriginProtection
	// queries caches and bounds the pages' metric store queries.
	queries *queryCache
	// rendered keeps the pages shared by everyone not signed in.
	rendered *pageCache
	dora30   doraCache // the timeline's DORA keys
	// draining is closed by Drain: long polls answer at once.
	draining  chan struct{}
	drainOnce sync.Once
}

// Drain makes every gate long poll answer now with what it knows, and
// later ones not wait: the server is shutting down, and its clients ask
// again (another replica, or this one restarted).
func (s *Server) Drain() { s.drainOnce.Do(func() { close(s.draining) }) }

// New builds the server's routes; it does not listen.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, pages: pages, changes: newChangeBell(), draining: make(chan struct{}),
		queries: newQueryCache(queryConcurrency, cacheEntries, cacheBytes), rendered: newPageCache()}
	s.forgetPagesOnChange()
	if s.crossOrigin, err = newCrossOrigin(opts.PublicURL); err != nil {
		return nil, err
	}

	gin.SetMode(gin.ReleaseMode) // no debug route dump, no console colours
	e := gin.New()
	if err := e.SetTrustedProxies(nil); err != nil { // ClientIP is the peer, not a header
		return nil, err
	}
	e.Use(otelgin.Middleware("gohere"), s.observe, s.recoverPanics, securityHeaders)
	if opts.TrustedProxyHeader != "" {
		e.Use(s.trustProxy) // on every route: a forged header is refused everywhere
	}
	// A known path with the wrong method is 405 with Allow, not 404.
	e.HandleMethodNotAllowed = true
	e.NoMethod(func(c *gin.Context) {
		s.apiError(c, fmt.Errorf("%s %s: %w; allowed: %s", c.Request.Method, c.Request.URL.Path, errMethod, c.Writer.Header().Get("Allow")))
	})
	e.NoRoute(func(c *gin.Context) {
		s.apiError(c, gohere.Errorf(gohere.NotFound, "no such route: %s %s", c.Request.Method, c.Request.URL.Path))
	})

	api := e.Group("/api/v1", s.authenticate)
	api.POST("/deploys", s.requireWrite, s.createDeploy)
	api.GET("/deploys", s.listDeploys)
	api.GET("/deploys/:id", s.getDeploy)
	api.POST("/deploys/:id/finish", s.finishDeploy) // the roles are checked by status: see finishDeploy
	api.GET("/deploys/:id/gate", s.gate)
	api.POST("/deploys/:id/analyses", s.requireWrite, s.createAnalysis)
	api.GET("/analyses/:id", s.getAnalysis)
	api.POST("/analyses/:id/decision", s.decideAPI)
	if s.opts.DORA != nil {
		api.GET("/dora", s.dora)
	}
	if s.opts.Alerts != nil {
		api.GET("/correlations", s.listCorrelations)
		api.GET("/deploys/:id/alerts", s.deployAlerts)
		alerts := e.Group("/hooks", basicAsBearer, s.authenticate, s.requireWrite)
		alerts.POST("/alertmanager", s.alertHook("alertmanager", "4"))
		alerts.POST("/grafana", s.alertHook("grafana", "1"))
	}

	if s.opts.Trains != nil {
		api.GET("/trains", s.listTrains)
		api.GET("/trains/:name", s.getTrain)
		api.POST("/trains/:name/:action", s.trainAPI)
		e.GET("/train", s.trainPageHandler)
		e.POST("/train/:action", s.trainForm)
		if s.opts.SlackSigningSecret != "" {
			e.POST("/hooks/slack/command", s.slashCommand)
		}
	}

	// Flagger's webhooks: confirm-promotion and confirm-rollout (gate) go
	// on once a person approved; rollback rolls back once somebody halted.
	hooks := e.Group("/hooks/flagger")
	hooks.POST("/confirm-promotion", s.flaggerHook(func(g GateView) bool { return g.State == GatePromote }))
	hooks.POST("/gate", s.flaggerHook(func(g GateView) bool { return g.State == GatePromote }))
	hooks.POST("/rollback", s.flaggerHook(func(g GateView) bool { return g.State == GateHalt }))

	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.ready)
	e.GET("/metrics", func(c *gin.Context) {
		c.Header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		c.Status(http.StatusOK)
		s.opts.Metrics.WritePrometheus(c.Writer)
	})

	e.GET("/", s.timelinePage)
	e.GET("/deploys/:id", s.deployPage)
	e.POST("/deploys/:id/decision", s.decidePage)
	e.GET("/compare", s.comparePage)
	e.GET("/login", s.loginPage)
	if s.opts.ChatInbox != nil {
		e.GET("/demo/chat", s.chatPage)
		e.POST("/demo/chat/hook", gin.WrapH(s.opts.ChatInbox))
	}
	e.POST("/login", s.login)
	e.POST("/logout", s.logout)
	e.GET("/static/gohere.css", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "text/css; charset=utf-8", stylesheet)
	})
	s.engine = e
	return s, nil
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.opts.Store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: database down", "err", err)
		s.apiError(c, gohere.Errorf(gohere.Unavailable, "database unavailable"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// quietRoutes are polled by machines: logged at debug level unless they fail.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/static/gohere.css": true}

// observe logs and counts every request by its route template, never its
// raw path, so that metric labels stay bounded.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	d := time.Since(start)
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	code := c.Writer.Status()
	s.opts.Metrics.ObserveHTTP(route, code, d)

	ctx := c.Request.Context()
	level := slog.LevelInfo
	switch {
	case code >= 500:
		level = slog.LevelError
	case quietRoutes[route]:
		level = slog.LevelDebug
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method), slog.String("route", route), slog.String("path", c.Request.URL.Path),
		slog.Int("status", code), slog.Duration("duration", d),
	}
	if id, ok := identity(c); ok {
		attrs = append(attrs, slog.String("actor", id.Name))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	s.log.LogAttrs(ctx, level, "http request", attrs...)
}

// recoverPanics turns a panic into a logged 500 with a generic JSON body.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler { // net/http's way to abort a response: not a bug
			panic(r)
		}
		s.log.ErrorContext(c.Request.Context(), "panic serving request",
			"route", c.FullPath(), "panic", r, "stack", string(debug.Stack()))
		if c.Writer.Written() {
			c.Abort()
			return
		}
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
	}()
	c.Next()
}

// contentSecurityPolicy allows only this server's own resources: no inline
// script or style, no framing.
const contentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	c.Next()
}

const identityKey = "gohere.identity"

// authenticate requires a valid bearer token and remembers its identity.
func (s *Server) authenticate(c *gin.Context) {
	scheme, secret, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		s.apiError(c, gohere.Errorf(gohere.Unauthorized, "missing bearer token: send Authorization: Bearer <token>"))
		return
	}
	id, ok := s.opts.Tokens.Authenticate(secret)
	if !ok {
		s.apiError(c, gohere.Errorf(gohere.Unauthorized, "invalid token"))
		return
	}
	c.Set(identityKey, id)
	trace.SpanFromContext(c.Request.Context()).SetAttributes(attribute.String("gohere.actor", id.Name))
	c.Next()
}

// requireWrite lets only ci and admin tokens record deploys.
func (s *Server) requireWrite(c *gin.Context) {
	if id, _ := identity(c); !id.Role.CanWrite() {
		s.apiError(c, gohere.Errorf(gohere.Forbidden, "token %s (role %s) may not write; want a ci or admin token", id.Name, id.Role))
		return
	}
	c.Next()
}

func identity(c *gin.Context) (auth.Identity, bool) {
	v, ok := c.Get(identityKey)
	if !ok {
		return auth.Identity{}, false
	}
	id, ok := v.(auth.Identity)
	return id, ok
}
