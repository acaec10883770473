package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	gapi "github.com/grafana/grafana-api-golang-client"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/dashboards"
)

func newDashboardsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dashboards", Short: "Install gohere's Grafana dashboards, or export them as files"}
	cmd.AddCommand(newDashboardsInstallCmd(), newDashboardsExportCmd())
	return cmd
}

// registerLabelFlags adds the label-name options both subcommands honour.
func registerLabelFlags(cmd *cobra.Command, o *dashboards.Options) {
	fl := cmd.Flags()
	fl.StringVar(&o.VersionLabel, "version-label", "version", "Prometheus label that tells versions apart")
	fl.StringVar(&o.ServiceLabel, "service-label", "service", "Prometheus label that names the service")
	fl.StringVar(&o.EnvLabel, "env-label", "env", "Prometheus label that names the environment")
}

func newDashboardsInstallCmd() *cobra.Command {
	var (
		opts       dashboards.Options
		grafanaURL string
		tokenFile  string
		folder     string
		overwrite  bool
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "install [--folder gohere] [--overwrite]",
		Short: "Create the folder and the dashboards in Grafana; running it again changes nothing",
		Long: "Create the folder and the dashboards in Grafana through its HTTP API. Dashboards keep\n" +
			"their uids, so a second install never duplicates them: one that is unchanged is left alone,\n" +
			"one that differs (edited in Grafana, or other label options) is kept unless --overwrite.\n" +
			"The token comes from GOHERE_GRAFANA_TOKEN or --grafana-token-file, never from a flag.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, err := grafanaToken(tokenFile)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			c, err := newGrafanaClient(ctx, grafanaURL, token)
			if err != nil {
				return err
			}
			res, err := dashboards.Install(ctx, c, folder, overwrite, opts)
			if err != nil {
				return redact(err, token)
			}
			return printInstall(cmd.OutOrStdout(), grafanaURL, res)
		},
	}
	registerLabelFlags(cmd, &opts)
	fl := cmd.Flags()
	fl.StringVar(&grafanaURL, "grafana-url", os.Getenv("GOHERE_GRAFANA_URL"), "Grafana URL (env GOHERE_GRAFANA_URL)")
	fl.StringVar(&tokenFile, "grafana-token-file", "", "file holding a Grafana service-account token (default: env GOHERE_GRAFANA_TOKEN)")
	fl.StringVar(&folder, "folder", "gohere", "title of the Grafana folder, created if missing")
	fl.BoolVar(&overwrite, "overwrite", false, "replace dashboards that differ from this gohere's")
	fl.DurationVar(&timeout, "timeout", time.Minute, "time limit for the whole install")
	return cmd
}

func newDashboardsExportCmd() *cobra.Command {
	var opts dashboards.Options
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Write the dashboards as DIR/<uid>.json, for Grafana's provisioning from files",
		Args:  exactArgs(1, "a directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := dashboards.Export(args[0], opts); err != nil {
				return err
			}
			files, err := dashboards.Render(opts)
			if err != nil {
				return err
			}
			for _, uid := range []string{dashboards.CompareUID, dashboards.DeploysUID} {
				if _, ok := files[uid]; ok {
					fmt.Fprintln(cmd.OutOrStdout(), "wrote", filepath.Join(args[0], uid+".json"))
				}
			}
			return nil
		},
	}
	registerLabelFlags(cmd, &opts)
	return cmd
}

// grafanaToken reads the token from the file, or else the environment:
// never from a flag, which would show in ps and shell history.
func grafanaToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("GOHERE_GRAFANA_TOKEN"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", gohere.Errorf(gohere.Invalid, "--grafana-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", gohere.Errorf(gohere.Invalid, "--grafana-token-file %s is empty", file)
	}
	return token, nil
}

// newGrafanaClient returns the mandated client. It has no context
// parameter, so its HTTP client carries ctx on every request instead.
func newGrafanaClient(ctx context.Context, rawURL, token string) (*gapi.Client, error) {
	if rawURL == "" {
		return nil, gohere.Errorf(gohere.Invalid, "no Grafana: set --grafana-url or GOHERE_GRAFANA_URL")
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, gohere.Errorf(gohere.Invalid, "grafana url %q: want an http(s) URL", redactURL(rawURL))
	}
	if token == "" && u.User == nil {
		return nil, gohere.Errorf(gohere.Invalid, "no Grafana token: set GOHERE_GRAFANA_TOKEN or --grafana-token-file")
	}
	hc := &http.Client{Transport: ctxTransport{ctx: ctx, base: otelhttp.NewTransport(http.DefaultTransport)}}
	c, err := gapi.New(rawURL, gapi.Config{APIKey: token, Client: hc})
	if err != nil {
		return nil, gohere.Errorf(gohere.Invalid, "grafana url %q: %w", redactURL(rawURL), err)
	}
	return c, nil
}

// ctxTransport attaches ctx to requests made by a client that takes none.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// redact removes the token from an error that might echo it (a proxy's
// error page, say), keeping its kind for the exit code.
func redact(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return gohere.Errorf(gohere.KindOf(err), "%s", strings.ReplaceAll(err.Error(), token, "[redacted]"))
}

// redactURL hides a password in the URL's user info.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func printInstall(w io.Writer, grafanaURL string, res dashboards.Result) error {
	folder := "found"
	if res.FolderCreated {
		folder = "created"
	}
	if _, err := fmt.Fprintf(w, "folder %q (uid %s): %s\n", res.Folder, res.FolderUID, folder); err != nil {
		return err
	}
	base := strings.TrimRight(redactURL(grafanaURL), "/")
	for _, d := range res.Dashboards {
		line := fmt.Sprintf("%s: %s  %s/d/%s", d.UID, d.Action, base, d.UID)
		if d.Action == dashboards.Kept {
			line += "  (differs from this gohere's version; --overwrite replaces it)"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}
