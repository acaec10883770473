package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/notify"
	"github.com/gohere/gohere/internal/replay"
	"github.com/gohere/gohere/internal/telemetry"
)

// demoTimeout bounds the scripted part: recording the deploys and judging
// every scenario from its recording takes a second or two.
const demoTimeout = 2 * time.Minute

type demoOptions struct {
	listen string
	once   bool
	out    io.Writer
	logger *slog.Logger
}

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run gohere on a throw-away SQLite with example deploys and canary analyses of the recorded fixtures",
		Long: `Starts gohere on a SQLite database in a temp dir, records example deploys and one canary
deploy per fixture scenario, judges each scenario's canary analysis from recorded metric
store answers (no metric store, Grafana or network needed) and prints the URLs to open.
It serves until Ctrl-C; with --once it prints the results and exits: 0 when every
scenario got its expected verdict, 1 when one did not, 3 on errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.out = cmd.OutOrStdout()
			o.logger = telemetry.NewLogger(cmd.ErrOrStderr(), slog.LevelWarn, false)
			return demo(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:0", "address to serve on (port 0: any free port)")
	cmd.Flags().BoolVar(&o.once, "once", false, "run the scripted scenario, print the results and exit")
	return cmd
}

// demo runs the whole flow against an in-process server through its HTTP API.
func demo(ctx context.Context, o demoOptions) (err error) {
	dir, err := os.MkdirTemp("", "gohere-demo-")
	if err != nil {
		return fmt.Errorf("demo: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	// Throw-away tokens: nobody but this process knows them.
	ciToken, humanToken := rand.Text(), rand.Text()
	riders, riderTokens := demoRiderTokens()
	tokens, err := auth.Parse("ci:demo-ci:" + ciToken + ",human:demo:" + humanToken + riderTokens)
	if err != nil {
		return err
	}
	scenarios, src, err := placeScenarios(time.Now())
	if err != nil {
		return err
	}
	inbox := &notify.Inbox{}
	a, err := app.New(ctx, app.Options{DB: filepath.Join(dir, "gohere.db"), Listen: o.listen, Tokens: tokens,
		Logger: o.logger, Source: src, Notify: app.NotifyOptions{Inbox: inbox}})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.Run(runCtx) }()
	defer func() {
		stop()
		err = errors.Join(err, <-served, a.Close())
	}()

	c, err := client.New(a.URL(), ciToken, 30*time.Second)
	if err != nil {
		return err
	}
	scriptCtx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	results, linked, err := demoScript(scriptCtx, c, scenarios)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	wrong := printDemo(o.out, a.URL(), dir, linked, results)
	if problem := demoAlert(scriptCtx, o.out, a.URL(), ciToken, results); problem != "" {
		wrong = strings.TrimPrefix(wrong+"; "+problem, "; ")
	}
	if problem := demoTrain(scriptCtx, o.out, a.URL(), riders); problem != "" {
		wrong = strings.TrimPrefix(wrong+"; "+problem, "; ")
	}
	if o.once {
		human, err := client.New(a.URL(), humanToken, 30*time.Second)
		if err != nil {
			return err
		}
		for _, problem := range []string{demoGates(scriptCtx, o.out, c, human, results), demoChat(scriptCtx, o.out, a.URL(), inbox)} {
			if problem != "" {
				wrong = strings.TrimPrefix(wrong+"; "+problem, "; ")
			}
		}
		if wrong != "" {
			return withExit(exitFail, errors.New("demo: "+wrong))
		}
		return nil
	}
	printAwaiting(o.out, a.URL(), humanToken, ciToken, results)
	demoChat(scriptCtx, o.out, a.URL(), inbox)
	fmt.Fprintln(o.out, "\nServing until Ctrl-C; the database goes with it.")
	<-ctx.Done()
	return nil
}

// placedScenario is a fixture scenario placed at its own hour in the past:
// its canary deploy ran from deployed for the scenario's Duration, and its
// analysis window is the one its recording was made for.
type placedScenario struct {
	fixtures.Scenario
	deployed   time.Time
	start, end time.Time
}

// linkedScenario is the scenario whose compare page the demo prints as GO
// HERE: a regression shows best what the page is for.
const linkedScenario = "latency-regression"

// awaitingDecision are the scenarios of which the demo records a second
// canary deploy that it leaves running, its analysis awaiting a person's
// Approve or Halt: one that passes and one that fails. (Their compare
// pages reach to now, beyond the recordings.)
var awaitingDecision = map[string]gohere.DecisionKind{"healthy": gohere.DecisionApprove, linkedScenario: gohere.DecisionHalt}

// finalStatus is how a team would have closed the scenario's canary deploy
// given its verdict.
func (sc placedScenario) finalStatus() gohere.Status {
	switch sc.Expected {
	case gohere.VerdictPass:
		return gohere.StatusSucceeded
	case gohere.VerdictFail:
		return gohere.StatusRolledBack
	}
	return gohere.StatusHalted // not judged: a human stopped it
}

// placeScenarios puts scenario i at the (i+1)-th whole hour before now, so
// that every analysis is over (retrospective) and scenarios sharing series
// do not overlap, and returns a source replaying their recordings there.
func placeScenarios(now time.Time) ([]placedScenario, *replay.Source, error) {
	hour := now.Truncate(time.Hour)
	var out []placedScenario
	var ps []replay.Placement
	for i, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			return nil, nil, err
		}
		rec, err := replay.Load(name)
		if err != nil {
			return nil, nil, err
		}
		at := hour.Add(-time.Duration(i+1) * time.Hour)
		start, end := rec.Window(at)
		out = append(out, placedScenario{Scenario: sc, deployed: at, start: start, end: end})
		ps = append(ps, replay.Placement{Recording: rec, Start: at})
	}
	return out, replay.New(ps...), nil
}

// demoDeploy is an example deploy, finished with status unless that is
// running.
type demoDeploy struct {
	req    client.StartRequest
	status gohere.Status
}

// historyStart and historyLength place demoHistory's deploys a day before
// now, an hour apart, before every scenario's canary.
const (
	historyStart  = -24 * time.Hour
	historyLength = 20 * time.Minute
)

// demoHistory comes before the scenarios' canaries; demoNewest after them.
var (
	demoHistory = []demoDeploy{
		{client.StartRequest{Service: "checkout", Env: "prod", Version: "v1.3.0", Commit: "9c41e07", Author: "alice", MergedBy: "bob",
			PR: "https://github.com/example/shop/pull/401", Changes: []gohere.Change{
				{Commit: "9c41e07", Author: "alice", Title: "fix tax rounding for EUR"},
				{Commit: "1d7f2aa", Author: "carol", Title: "retry card authorisation once on timeout"}}}, gohere.StatusSucceeded},
		{client.StartRequest{Service: "payments", Env: "prod", Version: "v2.7.0", Commit: "e5b0c93", Author: "dave", MergedBy: "erin",
			PR: "https://github.com/example/shop/pull/405", Changes: []gohere.Change{
				{Commit: "e5b0c93", Author: "dave", Title: "move refunds to the new ledger API"}}}, gohere.StatusSucceeded},
		{client.StartRequest{Service: "checkout", Env: "prod", Version: "v1.4.0", Commit: "44aa1f0", Author: "carol", MergedBy: "alice",
			PR: "https://github.com/example/shop/pull/409", Changes: []gohere.Change{
				{Commit: "44aa1f0", Author: "carol", Title: "cache shipping quotes"}}}, gohere.StatusRolledBack},
		{client.StartRequest{Service: "checkout", Env: "prod", Version: "v1.4.2", Commit: "b2c9d18", Author: "carol", MergedBy: "bob",
			PR: "https://github.com/example/shop/pull/412", Changes: []gohere.Change{
				{Commit: "b2c9d18", Author: "carol", Title: "invalidate shipping quotes when the address changes"},
				{Commit: "0f3e6a2", Author: "bob", Title: "bump the HTTP client timeout to 3s"}}}, gohere.StatusSucceeded},
	}
	demoNewest = demoDeploy{client.StartRequest{Service: "payments", Env: "prod", Version: "v2.8.0", Commit: "7a1b3c4", Author: "erin", MergedBy: "dave",
		PR: "https://github.com/example/shop/pull/417", Changes: []gohere.Change{
			{Commit: "7a1b3c4", Author: "erin", Title: "3-D Secure challenge for cards issued outside the EU"},
			{Commit: "5e2d9b0", Author: "dave", Title: "log the acquirer's decline codes"}}}, gohere.StatusRunning}
)

// demoResult is one scenario's analysis as the API reports it.
type demoResult struct {
	scenario placedScenario
	analysis client.Analysis
	report   string
	deployID string
	awaiting bool // a running deploy whose analysis awaits a decision
}

// recordAwaiting records the second, running canary deploy of a scenario
// in awaitingDecision, with the same analysis.
func recordAwaiting(ctx context.Context, c *client.Client, sc placedScenario, i int) (demoResult, error) {
	d, err := c.StartDeploy(ctx, client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary,
		BaselineVersion: sc.Baseline, Stage: string(gohere.StageCanary), Author: "fixtures", StartedAt: sc.deployed,
		Changes: []gohere.Change{{Commit: fmt.Sprintf("decaf%d", i), Author: "fixtures", Title: "awaiting your decision: " + sc.Description}}})
	if err != nil {
		return demoResult{}, err
	}
	a, err := c.StartAnalysis(ctx, d.ID, sc.Config, sc.start, sc.end)
	if err != nil {
		return demoResult{}, err
	}
	return demoResult{scenario: sc, analysis: a, report: d.ReportURL, deployID: d.ID, awaiting: true}, nil
}

// problem says why the result is not what the scenario expects; "" if it is.
func (r demoResult) problem() string {
	a := r.analysis
	for _, iv := range a.Intervals {
		if iv.Error != "" {
			return fmt.Sprintf("%s: interval %d not judged: %s", r.scenario.Name, iv.Seq, iv.Error)
		}
	}
	if a.State == "error" || a.Verdict != r.scenario.Expected {
		return fmt.Sprintf("%s: %s (%s), want %s", r.scenario.Name, cmp.Or(string(a.Verdict), "no verdict"), a.State, r.scenario.Expected)
	}
	return ""
}

// demoScript records the example deploys and one canary deploy per scenario
// with its analysis, each scenario's deploy at the time its recording is
// placed so that its compare page has data; waits until every analysis is
// over, and returns them with the linkedScenario's deploy.
func demoScript(ctx context.Context, c *client.Client, scenarios []placedScenario) ([]demoResult, client.DeployView, error) {
	day := time.Now().Truncate(time.Hour).Add(historyStart)
	for i, d := range demoHistory {
		d.req.StartedAt = day.Add(time.Duration(i) * time.Hour)
		if _, err := recordDemoDeploy(ctx, c, d, d.req.StartedAt.Add(historyLength)); err != nil {
			return nil, client.DeployView{}, err
		}
	}
	var (
		results []demoResult
		linked  client.DeployView
	)
	for i, sc := range scenarios {
		d, err := recordDemoDeploy(ctx, c, demoDeploy{client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary,
			BaselineVersion: sc.Baseline, Stage: string(gohere.StageCanary), Author: "fixtures", StartedAt: sc.deployed,
			Changes: []gohere.Change{{Commit: fmt.Sprintf("c0ffee%d", i), Author: "fixtures", Title: "scenario " + sc.Name + ": " + sc.Description}}},
			sc.finalStatus()}, sc.deployed.Add(sc.Duration))
		if err != nil {
			return nil, client.DeployView{}, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		if sc.Name == linkedScenario {
			linked = d
		}
		a, err := c.StartAnalysis(ctx, d.ID, sc.Config, sc.start, sc.end)
		if err != nil {
			return nil, client.DeployView{}, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		results = append(results, demoResult{scenario: sc, analysis: a, report: d.ReportURL, deployID: d.ID})
		if _, ok := awaitingDecision[sc.Name]; ok {
			r, err := recordAwaiting(ctx, c, sc, i)
			if err != nil {
				return nil, client.DeployView{}, fmt.Errorf("scenario %s awaiting a decision: %w", sc.Name, err)
			}
			results = append(results, r)
		}
	}
	if linked.ID == "" {
		return nil, client.DeployView{}, fmt.Errorf("no fixture scenario %s to link", linkedScenario)
	}
	if _, err := recordDemoDeploy(ctx, c, demoNewest, time.Time{}); err != nil {
		return nil, client.DeployView{}, err
	}
	for i := range results {
		var err error
		if results[i].analysis, err = waitAnalysis(ctx, c, results[i].analysis); err != nil {
			return nil, client.DeployView{}, fmt.Errorf("scenario %s: %w", results[i].scenario.Name, err)
		}
	}
	return results, linked, nil
}

// recordDemoDeploy starts d and, unless it is running, finishes it at
// finished.
func recordDemoDeploy(ctx context.Context, c *client.Client, d demoDeploy, finished time.Time) (client.DeployView, error) {
	v, err := c.StartDeploy(ctx, d.req)
	if err != nil || d.status == gohere.StatusRunning {
		return v, err
	}
	return c.FinishDeployAt(ctx, v.ID, d.status, finished)
}

// waitAnalysis polls until the analysis has no interval left to judge.
func waitAnalysis(ctx context.Context, c *client.Client, a client.Analysis) (client.Analysis, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for a.Active() {
		select {
		case <-ctx.Done():
			return a, gohere.Errorf(gohere.Unavailable, "analysis %s still %s after %d intervals (last error %q): %w",
				a.ID, a.State, len(a.Intervals), a.LastError, ctx.Err())
		case <-tick.C:
		}
		var err error
		if a, err = c.GetAnalysis(ctx, a.ID); err != nil {
			return a, err
		}
	}
	return a, nil
}

// printDemo writes the URLs to open and the scenarios' results, and returns
// what differs from the expected verdicts ("" when nothing does). linked is
// the deploy whose GO HERE link it prints.
func printDemo(w io.Writer, base, dir string, linked client.DeployView, results []demoResult) string {
	fmt.Fprintf(w, "gohere demo at %s (SQLite in %s; metric store answers replayed from recordings)\n\n", base, dir)
	fmt.Fprintf(w, "Deploy timeline: %s/\n", base)
	fmt.Fprintf(w, "GO HERE:         %s\n", linked.GoHereURL)
	fmt.Fprintf(w, "                 (the %s canary: %s %s %s, baseline %s, %s)\n\n", linkedScenario, linked.Service, linked.Env, linked.Version,
		cmp.Or(linked.BaselineVersion, "none"), linked.Status)
	fmt.Fprintln(w, "Canary analyses of the fixture scenarios:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tEXPECTED\tVERDICT\tSCORE\tREPORT")
	var wrong []string
	judged := 0
	for _, r := range results {
		a := r.analysis
		if !r.awaiting {
			judged++
		}
		if r.awaiting {
			if p := r.problem(); p != "" {
				wrong = append(wrong, p)
			}
			continue
		}
		score := fmt.Sprintf("%.1f", a.Score)
		if a.Verdict == gohere.VerdictNoData || a.Verdict == "" {
			score = "—" // no data is not a score of 0
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.scenario.Name, r.scenario.Expected, cmp.Or(string(a.Verdict), "-"), score, r.report)
		if p := r.problem(); p != "" {
			wrong = append(wrong, p)
		}
	}
	tw.Flush()
	if len(wrong) == 0 {
		fmt.Fprintf(w, "All %d scenarios got their expected verdict.\n", judged)
		return ""
	}
	msg := fmt.Sprintf("%d of %d scenarios did not get their expected verdict: %s", len(wrong), judged, strings.Join(wrong, "; "))
	fmt.Fprintln(w, msg)
	return msg
}

// printAwaiting says where the canaries awaiting a decision are and how to
// sign in to decide them.
func printAwaiting(w io.Writer, base, humanToken, ciToken string, results []demoResult) {
	fmt.Fprintf(w, "\nAwaiting your decision (sign in at %s/login with the human token %s,\nthen press Approve or Halt on the report page):\n", base, humanToken)
	for _, r := range results {
		if r.awaiting {
			fmt.Fprintf(w, "  %s (%s): %s\n", r.scenario.Name, r.analysis.Verdict, r.report)
			fmt.Fprintf(w, "      GOHERE_TOKEN=%s gohere gate %s --server %s\n", ciToken, r.deployID, base)
		}
	}
}

// demoGates decides each canary awaiting a decision as a person would
// (approve the passing one, halt the failing one) and runs `gohere gate` on
// it; it returns what differs from the expected exit codes ("" when
// nothing does).
func demoGates(ctx context.Context, w io.Writer, ci, human *client.Client, results []demoResult) string {
	fmt.Fprintln(w, "\nGates (`gohere gate`) after a person decided:")
	var wrong []string
	for _, r := range results {
		kind := awaitingDecision[r.scenario.Name]
		if !r.awaiting {
			continue
		}
		want, reason := exitOK, "the canary matches the baseline"
		if kind == gohere.DecisionHalt {
			want, reason = exitFail, "latency regression: "+r.scenario.Description
		}
		if _, err := human.Decide(ctx, r.analysis.ID, kind, reason); err != nil {
			wrong = append(wrong, fmt.Sprintf("%s: %s: %v", r.scenario.Name, kind, err))
			continue
		}
		var out strings.Builder
		code := exitCode(gate(ctx, ci, r.deployID, gateOptions{timeout: time.Minute, out: &out, err: &out}))
		fmt.Fprintf(w, "  %s: %s by demo → gate exit %d (want %d)\n", r.scenario.Name, kind, code, want)
		if code != want {
			wrong = append(wrong, fmt.Sprintf("%s: gate exit %d, want %d: %s", r.scenario.Name, code, want, oneLine(out.String())))
		}
	}
	return strings.Join(wrong, "; ")
}

// demoChat waits for the channel to hear of everything the demo did (no
// new message for half a second), prints what it got and says what is
// wrong, if anything.
func demoChat(ctx context.Context, w io.Writer, base string, inbox *notify.Inbox) string {
	seen, quiet := 0, time.Now()
	for time.Since(quiet) < 500*time.Millisecond && ctx.Err() == nil {
		if n := len(inbox.Messages()); n != seen {
			seen, quiet = n, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(w, "\nChat: %d messages, one per state change, at %s/demo/chat\n"+
		"      (gohere serve --notify-webhook URL posts them to Slack, Mattermost or Rocket.Chat instead).\n", seen, base)
	if seen == 0 {
		return "the chat channel received no message"
	}
	return ""
}

// demoAlert sends what Alertmanager would when the service of the latency
// regression's canary, still running, pages: gohere correlates the alert
// with the service's running canaries, tells the likeliest one's channel
// and lists it on their pages. It prints the alert and says what is wrong,
// if anything.
func demoAlert(ctx context.Context, w io.Writer, base, token string, results []demoResult) string {
	var canary *demoResult
	for i, r := range results {
		if r.awaiting && r.scenario.Name == linkedScenario {
			canary = &results[i]
		}
	}
	if canary == nil {
		return "no running canary of " + linkedScenario + " to alert on"
	}
	sc := canary.scenario // its service also runs the healthy canary: both are candidates
	payload, err := json.Marshal(map[string]any{"version": "4", "status": "firing", "alerts": []map[string]any{{
		"status":      "firing",
		"labels":      map[string]string{"alertname": "HighLatency", "service": sc.Service, "env": sc.Env, "severity": "critical"},
		"annotations": map[string]string{"summary": "p99 latency above the SLO for 5 minutes"},
		"startsAt":    time.Now().UTC().Format(time.RFC3339), "fingerprint": "demo-high-latency",
	}}})
	if err != nil {
		return "alert: " + err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/hooks/alertmanager", bytes.NewReader(payload))
	if err != nil {
		return "alert: " + err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "alert: " + err.Error()
	}
	defer resp.Body.Close()
	var got struct{ Alerts []gohere.Alert }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK ||
		len(got.Alerts) != 1 || len(got.Alerts[0].Correlations) == 0 {
		return fmt.Sprintf("alert: HTTP %d (%v); want 200 and the alert correlated with the running canaries", resp.StatusCode, err)
	}
	cs := got.Alerts[0].Correlations
	fmt.Fprintf(w, "\nAlert HighLatency of %s/%s, as Alertmanager sends it to /hooks/alertmanager: correlated with %d deploys;\n"+
		"the likeliest, %s %s (%s), is told in chat and lists it: %s/deploys/%s\n",
		sc.Service, sc.Env, len(cs), cs[0].Stage, cs[0].Version, cs[0].Reason, base, url.PathEscape(cs[0].DeployID))
	return ""
}

// demoRiders are the people of the demo's push train, in joining order.
var demoRiders = []string{"ana", "ben", "cleo", "dev"}

// demoRiderTokens makes a throw-away human token per rider, and the text
// that adds them to the server's tokens.
func demoRiderTokens() (map[string]string, string) {
	tokens, list := map[string]string{}, ""
	for _, n := range demoRiders {
		tokens[n] = rand.Text()
		list += ",human:" + n + ":" + tokens[n]
	}
	return tokens, list
}

// demoTrain puts a push train with a car in progress on /train: four
// people join the checkout train, the first two of the head car are in.
// It prints the train and says what is wrong, if anything.
func demoTrain(ctx context.Context, w io.Writer, base string, tokens map[string]string) string {
	var last client.TrainReply
	for _, step := range []struct{ who, action string }{
		{"ana", "join"}, {"ben", "join"}, {"cleo", "join"}, {"dev", "join"}, {"ana", "in"}, {"ben", "in"},
	} {
		c, err := client.New(base, tokens[step.who], 30*time.Second)
		if err == nil {
			last, err = c.TrainAction(ctx, "checkout", step.action, client.TrainRequest{})
		}
		if err != nil {
			return fmt.Sprintf("push train: %s %s: %v", step.who, step.action, err)
		}
	}
	fmt.Fprintf(w, "\nPush train (page %s/train), a car in progress:\n", base)
	if err := printTrain(w, last.Train, time.Now()); err != nil {
		return err.Error()
	}
	if len(last.Cars) != 2 || last.Cars[0].State != "pushing" {
		return fmt.Sprintf("push train: %d cars, head car %v; want 2, pushing", len(last.Cars), last.Cars)
	}
	return ""
}
