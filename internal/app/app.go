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
	"strconv"
	"strings"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/auth"
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

	// retry shortens the outbox's polling and backoff in tests; zero values
	// take the outbox defaults.
	retry outboxTiming
	// http shortens the HTTP server's timeouts in tests; zero values take
	// defaultHTTPTimeouts.
	http httpTimeouts
}

type outboxTiming struct{ poll, minBackoff, maxBackoff time.Duration }

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
	runner    *analysis.Runner // nil without a metric store
	source    analysis.Source  // nil without a metric store
	publicURL string
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
	metrics.OutboxGauges(func() (int, float64) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		pending, oldest, err := db.OutboxStats(ctx, time.Now())
		if err != nil {
			opts.Logger.Warn("outbox stats", "err", err)
		}
		return pending, oldest.Seconds()
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
	return a, nil
}

// newRunner sets up the analysis runner when there is a metric store to
// query.
func (a *App) newRunner(m *telemetry.Metrics) error {
	src := a.opts.Source
	if src == nil && a.opts.PrometheusURL != "" {
		c, err := prom.New(prom.Options{URL: a.opts.PrometheusURL})
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
}

// URL is the server's public base URL.
func (a *App) URL() string { return a.publicURL }

// Addr is the address the listener is bound to.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Run serves until ctx is done, then shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		if a.worker == nil {
			return
		}
		if err := a.worker.Run(workerCtx); err != nil && !errors.Is(err, context.Canceled) {
			a.opts.Logger.Error("outbox worker stopped", "err", err)
		}
	}()
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		if a.runner != nil {
			_ = a.runner.Run(workerCtx) // returns nil once ctx ends
		}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.http.Serve(a.ln) }()
	a.opts.Logger.Info("gohere serving", "addr", a.Addr(), "url", a.publicURL, "grafana", a.opts.GrafanaURL != "", "engine", a.db.Engine())

	var err error
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = a.http.Shutdown(shutdownCtx)
		cancel()
	}
	stopWorker()
	<-workerDone
	<-runnerDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Close releases the database and the listener.
func (a *App) Close() error {
	a.ln.Close()
	return a.db.Close()
}
