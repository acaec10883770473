package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/notify"
	"github.com/gohere/gohere/internal/outbox"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/telemetry"
)

// Options configure one gohere server process.
type Options struct {
	DB           string // SQLite path or postgres:// URL
	Listen       string // host:port; port 0 picks a free one
	PublicURL    string // how users reach this server; default http://<listen address>
	GrafanaURL   string // empty: no annotations, the built-in compare page is the GO HERE link
	GrafanaToken string
	// GrafanaTimeout bounds one Grafana request; default 10s.
	GrafanaTimeout time.Duration
	PrometheusURL  string
	// PrometheusAuth is the bearer token (file), headers and CA file of the
	// store at PrometheusURL; its URL is PrometheusURL's.
	PrometheusAuth prom.Options
	Tokens         *auth.Tokens
	Logger         *slog.Logger
	// Source replaces the store at PrometheusURL as what analyses query:
	// the demo replays recorded fixtures through it.
	Source analysis.Source
	// CompareSignals are what the built-in compare page draws (the compare
	// config, see compare.LoadSignalsFile); zero: compare.DefaultSignals.
	CompareSignals compare.SignalSet
	// CanaryTemplates is a directory of <service>.yaml and default.yaml
	// canary configs that every canary deploy starts an analysis with (see
	// LoadCanaryTemplates); empty: none.
	CanaryTemplates string
	// TrustedProxyHeader, TrustedProxyCIDRs and HumanUsers sign people in
	// on the pages through an SSO proxy (see server.Options).
	TrustedProxyHeader string
	TrustedProxyCIDRs  []netip.Prefix
	HumanUsers         map[string]auth.Role
	// AlertMapping maps the labels of alerts received at /hooks/alertmanager
	// and /hooks/grafana to services and envs, and sets the correlation
	// window; zero: server.DefaultAlertMapping.
	AlertMapping server.AlertMapping
	// Notify is the push channel: where every state change of a deploy is
	// told (Slack-compatible or plain-JSON webhooks, per-service routes,
	// chat handles of authors). No destination: nothing is told.
	Notify NotifyOptions
	// TrainCarSize bounds a push train's car (default
	// server.DefaultCarSize); TrainIdle is how long a head car's member may
	// not answer before being moved to the next car (default 30m);
	// SlackSigningSecret verifies the slash commands at
	// /hooks/slack/command (empty: no slash command).
	TrainCarSize       int
	TrainIdle          time.Duration
	SlackSigningSecret string

	// retry shortens the outbox's polling and backoff in tests; zero values
	// take the outbox defaults.
	retry outboxTiming
	// http shortens the HTTP server's timeouts in tests; zero values take
	// defaultHTTPTimeouts.
	http httpTimeouts
}

type outboxTiming struct{ poll, minBackoff, maxBackoff time.Duration }

// NotifyOptions configure the push channel.
type NotifyOptions struct {
	Webhooks []notify.Destination // where deploys no route matches go
	Routes   notify.Routes
	Handles  notify.Handles
	// Timeout bounds one webhook call; default 10s.
	Timeout time.Duration
	// Inbox, when set, is one more destination: the server's own
	// /demo/chat (gohere demo's channel).
	Inbox *notify.Inbox
}

func (n NotifyOptions) enabled() bool {
	return len(n.Webhooks) > 0 || len(n.Routes.Routes) > 0 || n.Inbox != nil
}

func (o *Options) validate() error {
	var errs []error
	if o.DB == "" {
		errs = append(errs, gohere.Errorf(gohere.Invalid, "no database: set --db"))
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.Tokens == nil {
		errs = append(errs, gohere.Errorf(gohere.Invalid, "no API tokens: set GOHERE_TOKENS or --tokens-file (role:name:secret)"))
	}
	for _, u := range []struct{ name, v string }{{"--public-url", o.PublicURL}, {"--grafana-url", o.GrafanaURL}, {"--prometheus-url", o.PrometheusURL}} {
		if u.v == "" {
			continue
		}
		if p, err := url.Parse(u.v); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			// It may hold a password: never echo it raw.
			shown := "(unparsable)"
			switch at := strings.LastIndexByte(u.v, '@'); {
			case err == nil && p.User != nil:
				shown = strconv.Quote(p.Redacted())
			case at >= 0:
				shown = strconv.Quote("…" + u.v[at:])
			case err == nil:
				shown = strconv.Quote(u.v)
			}
			errs = append(errs, gohere.Errorf(gohere.Invalid, "%s %s: want an http(s) URL", u.name, shown))
		}
	}
	if err := server.ValidateTrustedProxy(o.TrustedProxyHeader, o.TrustedProxyCIDRs, o.HumanUsers); err != nil {
		errs = append(errs, err)
	}
	if o.GrafanaURL != "" && o.GrafanaToken == "" {
		errs = append(errs, gohere.Errorf(gohere.Invalid, "--grafana-url is set but GOHERE_GRAFANA_TOKEN is empty"))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.GrafanaTimeout <= 0 {
		o.GrafanaTimeout = 10 * time.Second
	}
	return errors.Join(errs...)
}

// App is a running gohere server: database, HTTP listener, outbox worker.
type App struct {
	opts      Options
	db        *store.DB
	ln        net.Listener
	http      *http.Server
	worker    *outbox.Worker   // nil without Grafana
	notifier  *notify.Worker   // nil without a chat destination
	runner    *analysis.Runner // nil without a metric store
	source    analysis.Source  // nil without a metric store
	publicURL string
	trains    *notify.TrainWorker // sweeps the push trains and tells their changes
}

// New opens the database (running migrations) and binds the listener; Run serves.
func New(ctx context.Context, opts Options) (*App, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	templates, err := opts.canaryTemplates()
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, opts.DB)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		db.Close()
		return nil, gohere.Errorf(gohere.Invalid, "listen on %s: %w", opts.Listen, err)
	}
	a := &App{opts: opts, db: db, ln: ln}
	a.publicURL = strings.TrimRight(opts.PublicURL, "/")
	if a.publicURL == "" {
		a.publicURL = "http://" + ln.Addr().String()
	}
	links := compare.Config{GrafanaURL: opts.GrafanaURL, PublicURL: a.publicURL}
	metrics := telemetry.NewMetrics()

	if opts.GrafanaURL != "" {
		g, err := annotate.NewGrafana(opts.GrafanaURL, opts.GrafanaToken, opts.GrafanaTimeout)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("grafana: %w", err)
		}
		a.worker, err = outbox.New(outbox.Options{
			Queue:     db,
			Deploys:   db,
			Annotator: g,
			Links: func(d gohere.Deploy) annotate.Links {
				return annotate.Links{GoHere: compare.URL(links, d), Report: a.reportURL(d)}
			},
			Logger:   opts.Logger,
			Recorder: metrics,
			Extender: db,
			Alerts:   db,
			AlertReport: func(deployID string) string {
				return a.reportURL(gohere.Deploy{ID: deployID})
			},
			Backlog: db,
			// One deploy's delivery is at most three Grafana calls (find,
			// then create or update, then create again if it was deleted);
			// the lease leaves room for several of them per batch.
			Lease:        10 * opts.GrafanaTimeout,
			DeliveryTime: 3 * opts.GrafanaTimeout,
			Poll:         opts.retry.poll,
			MinBackoff:   opts.retry.minBackoff,
			MaxBackoff:   opts.retry.maxBackoff,
		})
		if err != nil {
			a.Close()
			return nil, err
		}
	}
	if err := a.newNotifier(links, metrics); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.newTrains(metrics); err != nil {
		a.Close()
		return nil, err
	}
	if a.worker != nil {
		// Whether Grafana takes the annotations: 1 for the state the last
		// delivery round found, 0 for the others.
		for _, state := range []string{"ok", "down", "rejected"} {
			metrics.Set().NewGauge(`gohere_grafana_state{state="`+state+`"}`, func() float64 {
				if a.worker.GrafanaState() == state {
					return 1
				}
				return 0
			})
		}
	}
	metrics.OutboxGauges(func() []telemetry.Queue {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		qs := []telemetry.Queue{{Kind: "annotation"}, {Kind: "notification"}}
		for i, stats := range []func(context.Context, time.Time) (int, time.Duration, error){db.OutboxStats, db.NotificationStats} {
			pending, oldest, err := stats(ctx, time.Now())
			if err != nil {
				opts.Logger.Warn("outbox stats", "kind", qs[i].Kind, "err", err)
			}
			qs[i].Pending, qs[i].OldestSeconds = pending, oldest.Seconds()
		}
		return qs
	})

	if err := a.newRunner(metrics); err != nil {
		a.Close()
		return nil, err
	}
	srvOpts := server.Options{
		Store:           db,
		Tokens:          opts.Tokens,
		Metrics:         metrics,
		Logger:          opts.Logger,
		PublicURL:       a.publicURL,
		GoHereURL:       func(d gohere.Deploy) string { return compare.URL(links, d) },
		ReportURL:       a.reportURL,
		OnDeployChanged: a.kick,
		CompareSignals:  opts.CompareSignals,
		Sessions:        db,

		TrustedProxyHeader: opts.TrustedProxyHeader,
		TrustedProxyCIDRs:  opts.TrustedProxyCIDRs,
		HumanUsers:         opts.HumanUsers,
		ChatInbox:          opts.Notify.Inbox,
		Alerts:             db,
		AlertMapping:       opts.AlertMapping,
		DORA:               db,
		Trains:             db,
		TrainCarSize:       opts.TrainCarSize,
		SlackSigningSecret: opts.SlackSigningSecret,
		ChatHandles:        opts.Notify.Handles,
		OnTrainChanged:     a.trains.Kick,
	}
	if a.runner != nil {
		srvOpts.Source = a.source
		srvOpts.Analyses = db
		srvOpts.Decider = db
		srvOpts.OnAnalysisCreated = a.runner.Notify
		srvOpts.CanaryTemplates = templates
	}
	srv, err := server.New(srvOpts)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	// Read, write, idle and body timeouts: see httpTimeouts.
	a.http = newHTTPServer(srv.Handler(), opts.http, opts.Logger)
	a.http.RegisterOnShutdown(srv.Drain) // long polls answer now instead of holding the shutdown
	metrics.DORAGauges(func() (telemetry.Keys, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		k, ok := srv.Keys30(ctx, "", "")
		return telemetry.Keys{DeploysPerDay: k.DeploysPerDay, LeadTime: k.LeadTimeSeconds,
			ChangeFailureRate: k.ChangeFailureRate, TimeToRestore: k.TimeToRestoreSeconds}, ok
	})
	return a, nil
}

// newNotifier sets up the push channel's worker when there is a
// destination to tell.
func (a *App) newNotifier(links compare.Config, m *telemetry.Metrics) error {
	n := a.opts.Notify
	if !n.enabled() {
		return nil
	}
	a.db.EnableNotifications()
	var err error
	a.notifier, err = notify.New(notify.Options{
		Queue:    a.db,
		Reader:   a.db,
		Defaults: a.chatDefaults(),
		Routes:   n.Routes,
		Handles:  n.Handles,
		Links: func(d gohere.Deploy) notify.Links {
			return notify.Links{GoHere: compare.URL(links, d), Report: a.reportURL(d)}
		},
		Logger:     a.opts.Logger,
		Recorder:   m,
		Timeout:    n.Timeout,
		Poll:       a.opts.retry.poll,
		MinBackoff: a.opts.retry.minBackoff,
		MaxBackoff: a.opts.retry.maxBackoff,
	})
	return err
}

// newTrains sets up the push trains' worker: it sweeps them (a finished
// deploy, an idle member) and, with a chat destination, tells their
// changes.
func (a *App) newTrains(m *telemetry.Metrics) error {
	n := a.opts.Notify
	opts := notify.TrainOptions{
		Sweeper: a.db, Routes: n.Routes, Handles: n.Handles, Logger: a.opts.Logger, Recorder: m,
		Idle: a.opts.TrainIdle, CarSize: a.opts.TrainCarSize, Timeout: n.Timeout,
		MinBackoff: a.opts.retry.minBackoff, MaxBackoff: a.opts.retry.maxBackoff,
		Poll: a.opts.retry.poll,
	}
	if n.enabled() {
		opts.Queue, opts.Defaults = a.db, a.chatDefaults()
	}
	var err error
	a.trains, err = notify.NewTrainWorker(opts)
	return err
}

// chatDefaults are where messages no route matches go: the webhooks, and
// the demo's own channel.
func (a *App) chatDefaults() []notify.Destination {
	defaults := a.opts.Notify.Webhooks
	if a.opts.Notify.Inbox != nil {
		defaults = append(slices.Clip(defaults), notify.Destination{URL: a.publicURL + "/demo/chat/hook", Format: notify.FormatSlack})
	}
	return defaults
}

// newRunner sets up the analysis runner when there is a metric store to
// query.
func (a *App) newRunner(m *telemetry.Metrics) error {
	src := a.opts.Source
	if src == nil && a.opts.PrometheusURL != "" {
		po := a.opts.PrometheusAuth
		po.URL = a.opts.PrometheusURL
		c, err := prom.New(po)
		if err != nil {
			return err
		}
		src = c
	}
	if src == nil {
		return nil
	}
	a.source = src
	host, _ := os.Hostname()
	r, err := analysis.NewRunner(analysis.Options{
		Store:   a.db,
		Source:  src,
		Owner:   fmt.Sprintf("%s/%d", cmp.Or(host, "gohere"), os.Getpid()),
		Logger:  a.opts.Logger,
		Metrics: m,
	})
	a.runner = r
	return err
}

func (a *App) reportURL(d gohere.Deploy) string {
	return a.publicURL + "/deploys/" + url.PathEscape(d.ID)
}

func (a *App) kick() {
	if a.worker != nil {
		a.worker.Kick()
	}
	if a.notifier != nil {
		a.notifier.Kick()
	}
	if a.trains != nil {
		a.trains.Kick() // a finished deploy may move a train's head car on
	}
}

// loops are the app's background loops that are configured, by name;
// each runs until its context ends.
func (a *App) loops() map[string]func(context.Context) error {
	loops := map[string]func(context.Context) error{}
	if a.worker != nil {
		loops["outbox worker"] = a.worker.Run
	}
	if a.notifier != nil {
		loops["notify worker"] = a.notifier.Run
	}
	if a.trains != nil {
		loops["train worker"] = a.trains.Run
	}
	if a.runner != nil {
		loops["analysis runner"] = a.runner.Run
	}
	return loops
}

// URL is the server's public base URL.
func (a *App) URL() string { return a.publicURL }

// Addr is the address the listener is bound to.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Run serves until ctx is done, then shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	var background sync.WaitGroup
	for name, run := range a.loops() {
		background.Go(func() {
			if err := run(workerCtx); err != nil && !errors.Is(err, context.Canceled) {
				a.opts.Logger.Error(name+" stopped", "err", err)
			}
		})
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.http.Serve(a.ln) }()
	a.logStart(workerCtx, &background)

	var err error
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = a.http.Shutdown(shutdownCtx)
		cancel()
	}
	stopWorker()
	background.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// metricStoreCheckTimeout bounds the start check of the metric store.
const metricStoreCheckTimeout = 5 * time.Second

// logStart says which metric store, Grafana and public URL this server
// uses, warns when its links would name a wildcard address, and checks in
// the background that the metric store answers: a store that is down at
// start is a warning, since it may come up later, not a reason to refuse
// recording deploys.
func (a *App) logStart(ctx context.Context, background *sync.WaitGroup) {
	log := a.opts.Logger
	metricStore := "none (no analyses; the compare page says so)"
	switch {
	case a.opts.Source != nil:
		metricStore = "replayed recordings"
	case a.opts.PrometheusURL != "":
		metricStore = redactedURL(a.opts.PrometheusURL)
	}
	grafana := "none (GO HERE links open the built-in /compare page)"
	if a.opts.GrafanaURL != "" {
		grafana = redactedURL(a.opts.GrafanaURL)
	}
	log.Info("gohere serving", "addr", a.Addr(), "url", a.publicURL, "metric_store", metricStore, "grafana", grafana,
		"chat", a.notifier != nil, "engine", a.db.Engine())
	if host, _, err := net.SplitHostPort(a.opts.Listen); a.opts.PublicURL == "" && err == nil && wildcardHost(host) {
		log.Warn("listening on every interface without --public-url: links will read "+a.publicURL+
			", which other machines cannot open; set --public-url to the URL users reach gohere at", "listen", a.opts.Listen)
	}
	if a.opts.Source != nil || a.source == nil {
		return // a replay, or no store at all
	}
	background.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, metricStoreCheckTimeout)
		defer cancel()
		now := time.Now()
		if _, err := a.source.QueryRange(ctx, "vector(1)", now.Add(-time.Minute), now, time.Minute); err != nil {
			if !errors.Is(ctx.Err(), context.Canceled) { // not: shut down before it answered
				log.Warn("metric store does not answer: analyses and the compare page fail until it does",
					"metric_store", metricStore, "err", err)
			}
			return
		}
		log.Info("metric store answers", "metric_store", metricStore)
	})
}

// wildcardHost reports a listen host that means every interface.
func wildcardHost(host string) bool {
	if host == "" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// redactedURL is a configured URL as logs may show it: without a password.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)" // validate refused it already
	}
	return u.Redacted()
}

// Close releases the database and the listener.
func (a *App) Close() error {
	a.ln.Close()
	return a.db.Close()
}
