package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/compare"
	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/server"
	"github.com/gohere/gohere/internal/telemetry"
)

func newServeCmd() *cobra.Command {
	var (
		opts          app.Options
		tokensFile    string
		compareConfig string
		proxyCIDRs    []string
		humanUsers    string
		logJSON       bool
		chat          chatFlags
		alerts        alertFlags
		store         promFlags
		slackSecret   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gohere service: API, pages, Grafana annotations, analyses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tokens, err := loadTokens(tokensFile)
			if err != nil {
				return err
			}
			opts.Tokens = tokens
			if compareConfig != "" {
				if opts.CompareSignals, err = compare.LoadSignalsFile(compareConfig); err != nil {
					return err
				}
			}
			if opts.TrustedProxyCIDRs, err = server.ParseTrustedCIDRs(proxyCIDRs); err != nil {
				return err
			}
			if opts.HumanUsers, err = server.ParseHumanUsers(humanUsers); err != nil {
				return err
			}
			if opts.Notify, err = chat.options(); err != nil {
				return err
			}
			if opts.AlertMapping, err = alerts.mapping(); err != nil {
				return err
			}
			if opts.PrometheusAuth, err = store.options(opts.PrometheusURL); err != nil {
				return err
			}
			if opts.SlackSigningSecret, err = slackSigningSecret(slackSecret); err != nil {
				return err
			}
			if opts.TrainCarSize < 1 || opts.TrainIdle <= 0 {
				return gohere.Errorf(gohere.Invalid, "--train-car-size %d and --train-idle %s must be positive", opts.TrainCarSize, opts.TrainIdle)
			}
			opts.GrafanaToken = os.Getenv("GOHERE_GRAFANA_TOKEN")
			opts.Logger = telemetry.NewLogger(cmd.ErrOrStderr(), slog.LevelInfo, logJSON)
			return serve(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.DB, "db", envOr("GOHERE_DB", "gohere.db"), "SQLite file path or postgres:// URL (env GOHERE_DB)")
	fl.StringVar(&opts.Listen, "listen", envOr("GOHERE_LISTEN", "127.0.0.1:8080"), "address to listen on (env GOHERE_LISTEN)")
	fl.StringVar(&opts.PublicURL, "public-url", os.Getenv("GOHERE_PUBLIC_URL"), "URL users reach this server at, used in links (env GOHERE_PUBLIC_URL; default http://<listen>)")
	fl.StringVar(&opts.GrafanaURL, "grafana-url", os.Getenv("GOHERE_GRAFANA_URL"), "Grafana base URL; token in GOHERE_GRAFANA_TOKEN (env GOHERE_GRAFANA_URL)")
	fl.DurationVar(&opts.GrafanaTimeout, "grafana-timeout", 10*time.Second, "timeout of one Grafana request")
	fl.StringVar(&opts.PrometheusURL, "prometheus-url", os.Getenv("GOHERE_PROMETHEUS_URL"), "Prometheus-compatible API for analyses and the compare page (env GOHERE_PROMETHEUS_URL)")
	store.register(fl)
	fl.StringVar(&compareConfig, "compare-config", os.Getenv("GOHERE_COMPARE_CONFIG"), "YAML file of the signals the built-in compare page draws (env GOHERE_COMPARE_CONFIG; default: http_requests_total, http_request_duration_seconds, process_* conventions)")
	fl.StringVar(&opts.CanaryTemplates, "canary-templates", os.Getenv("GOHERE_CANARY_TEMPLATES"), "directory of canary configs, <service>.yaml and default.yaml, that every canary deploy without its own starts an analysis with; read at start, restart to reload (env GOHERE_CANARY_TEMPLATES)")
	fl.StringVar(&tokensFile, "tokens-file", os.Getenv("GOHERE_TOKENS_FILE"), "file of role:name:secret lines (or GOHERE_TOKENS, comma-separated)")
	fl.StringVar(&opts.TrustedProxyHeader, "trusted-proxy-header", "", "header an SSO proxy names the signed-in person with, e.g. X-Forwarded-User; believed only from --trusted-proxy-cidr, refused from elsewhere")
	fl.StringSliceVar(&proxyCIDRs, "trusted-proxy-cidr", nil, "address range of the SSO proxy, e.g. 10.0.0.0/8 (repeatable)")
	fl.StringVar(&humanUsers, "human-users", os.Getenv("GOHERE_HUMAN_USERS"), "people the SSO proxy may sign in: alice,bob,carol:admin (plain name: human, name:admin: admin; env GOHERE_HUMAN_USERS)")
	fl.BoolVar(&logJSON, "log-json", false, "log JSON records instead of text")
	fl.IntVar(&opts.TrainCarSize, "train-car-size", server.DefaultCarSize, "most people in one car of a push train")
	fl.DurationVar(&opts.TrainIdle, "train-idle", 30*time.Minute, "how long a head car's member may not answer before being moved to the next car")
	fl.StringVar(&slackSecret, "slack-signing-secret-file", os.Getenv("GOHERE_SLACK_SIGNING_SECRET_FILE"), "file holding the Slack app's signing secret, which enables the slash commands at /hooks/slack/command (or GOHERE_SLACK_SIGNING_SECRET; env GOHERE_SLACK_SIGNING_SECRET_FILE)")
	chat.register(fl)
	alerts.register(fl)
	return cmd
}

// defaultGCPercent replaces Go's 100 unless GOGC is set: the server's live
// heap is a few tens of MB, and collecting a quarter as often took p99 of
// POST /api/v1/deploys at 1,000 req/s on 2 cores from 5.3 ms to about 4 ms.
const defaultGCPercent = 400

// serve runs the service until ctx is cancelled (SIGINT/SIGTERM).
func serve(ctx context.Context, opts app.Options) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	shutdown, err := telemetry.SetupTracing(ctx, "gohere", buildVersion())
	if err != nil {
		return err
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(flushCtx); err != nil {
			opts.Logger.Warn("flush traces", "err", err)
		}
	}()
	a, err := app.New(ctx, opts)
	if err != nil {
		return err
	}
	runErr := a.Run(ctx)
	return errors.Join(runErr, a.Close())
}

func loadTokens(file string) (*auth.Tokens, error) {
	switch env := os.Getenv("GOHERE_TOKENS"); {
	case file != "" && env != "":
		return nil, gohere.Errorf(gohere.Invalid, "both --tokens-file and GOHERE_TOKENS are set; use one")
	case file != "":
		return auth.ParseFile(file)
	case env != "":
		return auth.Parse(env)
	default:
		return nil, gohere.Errorf(gohere.Invalid, "no API tokens: set GOHERE_TOKENS or --tokens-file (role:name:secret)")
	}
}

// slackSigningSecret reads the signing secret from file, else from
// GOHERE_SLACK_SIGNING_SECRET: never a flag, which ps would show.
func slackSigningSecret(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv("GOHERE_SLACK_SIGNING_SECRET")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", gohere.Errorf(gohere.Invalid, "--slack-signing-secret-file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", gohere.Errorf(gohere.Invalid, "--slack-signing-secret-file %s is empty", file)
	}
	return secret, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
