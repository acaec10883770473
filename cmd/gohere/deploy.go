package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/propagation"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/train"
)

// clientFlags are shared by every command that talks to a server.
type clientFlags struct {
	server  string
	token   string
	output  string
	timeout time.Duration
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", os.Getenv("GOHERE_SERVER"), "gohere server URL (env GOHERE_SERVER)")
	cmd.Flags().StringVar(&f.token, "token", "", "API token (env GOHERE_TOKEN; prefer the env: flags show in ps)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 30*time.Second, "request timeout")
}

func (f *clientFlags) client() (*client.Client, error) {
	if f.output != "text" && f.output != "json" {
		return nil, gohere.Errorf(gohere.Invalid, "-o %q: want text or json", f.output)
	}
	token := f.token
	if token == "" {
		token = os.Getenv("GOHERE_TOKEN")
	}
	if token == "" {
		// Every API route needs one: asking the server only to hear "send
		// Authorization: Bearer" would name a header the user never sets.
		return nil, gohere.Errorf(gohere.Invalid, "no API token: set GOHERE_TOKEN or --token")
	}
	return client.New(f.server, token, f.timeout)
}

// ciTraceContext joins the CI pipeline's trace: CI systems export the job's
// W3C trace context as TRACEPARENT (and TRACESTATE).
func ciTraceContext(ctx context.Context) context.Context {
	carrier := propagation.MapCarrier{}
	if v := os.Getenv("TRACEPARENT"); v != "" {
		carrier["traceparent"] = v
	}
	if v := os.Getenv("TRACESTATE"); v != "" {
		carrier["tracestate"] = v
	}
	return propagation.TraceContext{}.Extract(ctx, carrier)
}

func newDeployCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "deploy", Short: "Record deploys: start, finish, list"}
	cmd.AddCommand(newDeployStartCmd(), newDeployFinishCmd(), newDeployListCmd())
	return cmd
}

func newDeployStartCmd() *cobra.Command {
	var (
		cf         clientFlags
		req        client.StartRequest
		changes    []string
		startedAt  string
		commitTime string
		analyze    string
		trainName  string
		configOnly bool
	)
	cmd := &cobra.Command{
		Use:   "start --service S --env E --version V",
		Short: "Record a deploy; prints its id, the GO HERE link and the report link",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range changes {
				c, err := gohere.ParseChange(s)
				if err != nil {
					return err
				}
				req.Changes = append(req.Changes, c)
			}
			if configOnly {
				if err := markConfigOnly(&req, trainName); err != nil {
					return err
				}
			}
			var err error
			if req.StartedAt, err = parseTimeFlag("started-at", startedAt); err != nil {
				return err
			}
			if req.CommitTime, err = parseTimeFlag("commit-time", commitTime); err != nil {
				return err
			}
			if analyze != "" {
				config, err := os.ReadFile(analyze)
				if err != nil {
					return gohere.Errorf(gohere.Invalid, "--analyze: canary config: %w", err)
				}
				req.AnalysisConfig = string(config)
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx := ciTraceContext(cmd.Context())
			if trainName != "" {
				// The train is asked first: one that would refuse the deploy
				// gets none recorded.
				t, err := c.Train(ctx, trainName)
				if err != nil {
					return fmt.Errorf("train %s: %w", trainName, err)
				}
				if err := trainWantsDeploy(t); err != nil {
					return err
				}
				if len(req.Changes) == 0 {
					// The car's deploy ships what its members said in with,
					// each change by its author: a bundle.
					req.Changes = t.Cars[0].Changes
				}
			}
			d, err := c.StartDeploy(ctx, req)
			if err != nil {
				return err
			}
			if err := printDeploy(cmd.OutOrStdout(), cf.output, d); err != nil {
				return err
			}
			warnOtherCanaries(ctx, cmd.ErrOrStderr(), c, d)
			if trainName != "" {
				// The train wanted a deploy a moment ago; one that refuses it
				// now (stopped meanwhile) fails the command, not the record.
				if _, err := c.TrainAction(ctx, trainName, "deploy", client.TrainRequest{DeployID: d.ID}); err != nil {
					return fmt.Errorf("deploy %s: train %s: %w", d.ID, trainName, err)
				}
			}
			return nil
		},
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&req.Service, "service", "", "service name (required)")
	fl.StringVar(&req.Env, "env", "", "environment (required)")
	fl.StringVar(&req.Version, "version", "", "version being deployed (required)")
	fl.StringVar(&req.BaselineVersion, "baseline", "", "stable version to compare with (default: the last succeeded deploy)")
	fl.StringVar(&req.Stage, "stage", "canary", "canary or full")
	fl.StringVar(&req.Commit, "commit", "", "commit SHA")
	fl.StringVar(&req.Author, "author", "", "author of the change")
	fl.StringVar(&req.MergedBy, "merged-by", "", "who merged it")
	fl.StringVar(&req.PR, "pr", "", "pull request URL")
	fl.StringArrayVar(&changes, "change", nil, "a shipped change as SHA:AUTHOR:TITLE (repeatable)")
	fl.StringVar(&startedAt, "started-at", "", "when the deploy started, as an RFC3339 time within the last 30 days, to record it after the fact (default: now)")
	fl.StringVar(&commitTime, "commit-time", os.Getenv("GOHERE_COMMIT_TIME"), "when the newest commit was made, RFC3339 (e.g. git log -1 --format=%cI), for the DORA lead time for changes (env GOHERE_COMMIT_TIME)")
	fl.StringVar(&analyze, "analyze", "", "canary config (YAML, JSON or Kayenta) whose analysis starts with the deploy, in the same request")
	fl.BoolVar(&configOnly, "config-only", false, "the deploy only changes configuration: it ships in the fast lane, outside any push train, its changes titled CONFIG (tag config) and ranked last when an alert is correlated")
	fl.StringVar(&trainName, "train", "", "the push train whose head car this deploy ships (staging once all are in, prod once all verified): its finish moves the car on; without --change, its changes are the car members' (train in --change)")
	fl.StringVar(&req.IdempotencyKey, "idempotency-key", os.Getenv("GOHERE_IDEMPOTENCY_KEY"), "makes a retried start return the same deploy")
	for _, name := range []string{"service", "env", "version"} {
		_ = cmd.MarkFlagRequired(name) // cannot fail: the flags exist
	}
	return cmd
}

func newDeployFinishCmd() *cobra.Command {
	var (
		cf                 clientFlags
		status, finishedAt string
	)
	cmd := &cobra.Command{
		Use:   "finish ID --status succeeded|failed|halted|rolled_back",
		Short: "Close a deploy",
		Args:  exactArgs(1, "deploy ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := gohere.ParseFinalStatus(status)
			if err != nil {
				return err
			}
			at, err := parseTimeFlag("finished-at", finishedAt)
			if err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			d, err := c.FinishDeployAt(ciTraceContext(cmd.Context()), args[0], st, at)
			if err != nil {
				return err
			}
			return printDeploy(cmd.OutOrStdout(), cf.output, d)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&status, "status", "", "succeeded, failed, halted or rolled_back (required)")
	cmd.Flags().StringVar(&finishedAt, "finished-at", "", "when the deploy finished, as an RFC3339 time, to record it after the fact (default: now); a backfilled deploy is the baseline of later ones only from then on")
	_ = cmd.MarkFlagRequired("status")
	return cmd
}

func newDeployListCmd() *cobra.Command {
	var (
		cf           clientFlags
		f            gohere.DeployFilter
		since, until string
	)
	cmd := &cobra.Command{
		Use:   "list [--service S] [--env E]",
		Short: "List deploys, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Limit < 1 {
				return gohere.Errorf(gohere.Invalid, "--limit %d: want a positive number", f.Limit)
			}
			var err error
			if f.Since, err = parseTimeFlag("since", since); err != nil {
				return err
			}
			if f.Until, err = parseTimeFlag("until", until); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ds, err := c.ListDeploys(cmd.Context(), f)
			if err != nil {
				return err
			}
			if cf.output == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"deploys": ds})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSERVICE\tENV\tVERSION\tBASELINE\tSTAGE\tSTATUS\tVERDICT\tDECISION\tSTARTED")
			for _, d := range ds {
				verdict, decision := judgementColumns(d.Deploy)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Service, d.Env, d.Version,
					orDash(d.BaselineVersion), d.Stage, d.Status, verdict, decision, d.StartedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.Service, "service", "", "only this service")
	fl.StringVar(&f.Env, "env", "", "only this environment")
	fl.StringVar(&since, "since", "", "only deploys started at or after this RFC3339 time")
	fl.StringVar(&until, "until", "", "only deploys started before this RFC3339 time")
	fl.IntVar(&f.Limit, "limit", 50, "at most this many")
	return cmd
}

// canaryLookback is how many of a service's newest deploys in an env
// warnOtherCanaries looks through: a canary still running behind that many
// newer deploys was forgotten long ago.
const canaryLookback = 100

// warnOtherCanaries says on stderr (stdout may be JSON a script reads) when
// another canary of the deploy's service and env is still running: both
// are allowed, but their analyses then compare against traffic the other
// canary also shapes, and one of them was likely forgotten.
func warnOtherCanaries(ctx context.Context, w io.Writer, c *client.Client, d client.DeployView) {
	if d.Stage != gohere.StageCanary {
		return
	}
	ds, err := c.ListDeploys(ctx, gohere.DeployFilter{Service: d.Service, Env: d.Env, Limit: canaryLookback})
	if err != nil {
		fmt.Fprintf(w, "gohere: warning: could not check for other running canaries of %s in %s: %s\n", d.Service, d.Env, oneLine(err.Error()))
		return
	}
	for _, o := range ds {
		if o.ID != d.ID && o.Stage == gohere.StageCanary && o.Status == gohere.StatusRunning {
			fmt.Fprintf(w, "gohere: warning: another canary of %s in %s is running: deploy %s (%s, started %s)\n",
				d.Service, d.Env, o.ID, o.Version, o.StartedAt.UTC().Format(time.RFC3339))
		}
	}
}

// trainWantsDeploy says why the train's head car takes no deploy now, or
// nil when it does: the train runs and its head car is on staging (all in)
// or prod (all verified) with no deploy yet.
func trainWantsDeploy(t client.Train) error {
	switch {
	case t.Stopped:
		return gohere.Errorf(gohere.Conflict, "train %s was stopped by %s: %s; no deploy recorded: a human starts it first", t.Train, t.StoppedBy, t.Reason)
	case len(t.Cars) == 0:
		return gohere.Errorf(gohere.Conflict, "train %s is empty: there is no car to deploy; no deploy recorded", t.Train)
	}
	switch car := t.Cars[0]; {
	case car.State != string(train.Staging) && car.State != string(train.Prod):
		return gohere.Errorf(gohere.Conflict, "car %d of train %s is %s: it deploys once all are in (staging) or verified (prod); no deploy recorded", car.ID, t.Train, car.State)
	case car.DeployID != "":
		return gohere.Errorf(gohere.Conflict, "car %d of train %s deploys already: deploy %s; no deploy recorded", car.ID, t.Train, car.DeployID)
	}
	return nil
}

// markConfigOnly titles every change of a config-only deploy with
// annotate.ConfigPrefix, which is what the deploy's tags, messages and
// correlation read. It needs the changes, and no train: the fast lane
// queues behind nobody.
func markConfigOnly(req *client.StartRequest, trainName string) error {
	switch {
	case trainName != "":
		return gohere.Errorf(gohere.Invalid, "--config-only ships outside the push train: leave out --train")
	case len(req.Changes) == 0:
		return gohere.Errorf(gohere.Invalid, "--config-only: give the changes it ships (--change SHA:AUTHOR:TITLE)")
	}
	for i, c := range req.Changes {
		if !gohere.Titled(c.Title, annotate.ConfigPrefix) {
			req.Changes[i].Title = strings.TrimSpace(annotate.ConfigPrefix + " " + c.Title)
		}
	}
	return nil
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, gohere.Errorf(gohere.Invalid, "--%s %q: want an RFC3339 time", name, v)
	}
	return t, nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return gohere.Errorf(gohere.Invalid, "want %s, got %d arguments", what, len(args))
		}
		return nil
	}
}

func printDeploy(w io.Writer, format string, d client.DeployView) error {
	if format == "json" {
		return writeJSON(w, d)
	}
	baseline := d.BaselineVersion
	if baseline == "" {
		// Not "first deploy": earlier ones may exist that had not finished
		// succeeded by the time this one started (a backfilled start).
		baseline = fmt.Sprintf("none (no deploy of %s in %s had finished succeeded before this one started)", d.Service, d.Env)
	}
	report := d.ReportURL
	if j := d.Judgement; j != nil {
		report += "#analysis-" + j.AnalysisID
	}
	if _, err := fmt.Fprintf(w, "deploy %s: %s %s %s (%s, %s), baseline %s\nGO HERE: %s\nreport:  %s\n",
		d.ID, d.Service, d.Env, d.Version, d.Stage, d.Status, baseline, d.GoHereURL, report); err != nil {
		return err
	}
	var err error
	switch {
	case d.Judgement != nil:
		_, err = fmt.Fprintf(w, "analysis: %s (%s)\n", d.Judgement.AnalysisID, d.Judgement.State)
	case d.AnalysisSkipped != "":
		_, err = fmt.Fprintf(w, "analysis: none (%s)\n", d.AnalysisSkipped)
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// judgementColumns are the deploy's canary verdict ("Fail 0", or the
// analysis state while it runs) and decision, "-" where there is none.
func judgementColumns(d gohere.Deploy) (verdict, decision string) {
	j := d.Judgement
	if j == nil {
		return "-", "-"
	}
	verdict = j.State
	if j.Over() && j.Verdict != "" {
		verdict = fmt.Sprintf("%s %s", j.Verdict, strconv.FormatFloat(j.Score, 'f', -1, 64))
	}
	return verdict, orDash(d.DecisionText())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
