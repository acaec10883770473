package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/client"
)

const (
	// gateWait is the long poll of one gate request: under the server's
	// 60 s cap, and short enough that a proxy in front does not cut it.
	gateWait = 30 * time.Second
	// gateSlack is how much longer than its wait one request may take: the
	// server answers after the wait, plus the time to read and send it.
	gateSlack = 15 * time.Second
	// gateGrace lets the last answer, asked for just before --timeout,
	// arrive; no request outlives the deadline by more.
	gateGrace = 5 * time.Second

	backoffStart = 250 * time.Millisecond
	backoffCap   = 5 * time.Second
)

// gateOptions configure one wait for a gate.
type gateOptions struct {
	timeout  time.Duration
	failOpen bool
	json     bool
	out, err io.Writer
}

func newGateCmd() *cobra.Command {
	var (
		cf clientFlags
		o  gateOptions
	)
	cmd := &cobra.Command{
		Use:   "gate ID [--timeout 1h] [--fail-open]",
		Short: "Wait for the verdict of a deploy's canary and a person's decision; the exit code says what to do",
		Long: `Blocks until the newest canary analysis of the deploy has a verdict and a decision
(Approve or Halt on the report page, the API, Flagger, or the config's auto_promote /
auto_halt), printing one line per change (-o json: each new answer as one JSON line).
Exit codes: 0 promote, 1 halted or failed, 2 timed out or the deploy finished undecided,
3 error (bad input, unknown deploy, no analysis, token refused, server unreachable).
It rides out server restarts and network blips within --timeout.
--fail-open exits 0, with a warning, when the server could not be reached at all for
the whole timeout; every other outcome stays as above.`,
		Args: exactArgs(1, "deploy ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.timeout = cf.timeout
			if o.timeout <= 0 {
				return gohere.Errorf(gohere.Invalid, "--timeout %s: want a positive duration", o.timeout)
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			o.json, o.out, o.err = cf.output == "json", cmd.OutOrStdout(), cmd.ErrOrStderr()
			return gate(ciTraceContext(cmd.Context()), c, args[0], o)
		},
	}
	cf.register(cmd)
	// --timeout is the whole wait here, not one request's.
	t := cmd.Flags().Lookup("timeout")
	t.Usage, t.DefValue = "how long to wait for the verdict and the decision", "1h0m0s"
	_ = t.Value.Set(t.DefValue) // cannot fail: a valid duration
	cmd.Flags().BoolVar(&o.failOpen, "fail-open", false, "exit 0 (loudly) when gohere cannot be reached at all for the whole timeout")
	return cmd
}

// gate waits for the deploy's gate to settle and returns what the exit
// code must say: nil (promote), exit 1 (halt), exit 2 (timeout or
// undecided), or an error (exit 3).
func gate(ctx context.Context, c *client.Client, deployID string, o gateOptions) error {
	deadline := time.Now().Add(o.timeout)
	rctx, cancel := context.WithDeadline(ctx, deadline.Add(gateGrace))
	defer cancel()
	p := gatePrinter{o: o}
	var (
		answered bool
		lastErr  error
		b        backoff
	)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		// The first answer comes at once, to say where things stand; later
		// ones long-poll, the last no longer than the time left.
		wait := time.Duration(0)
		if answered {
			wait = min(gateWait, left)
		}
		g, err := c.WithTimeout(wait+gateSlack).Gate(rctx, deployID, wait)
		if ctx.Err() != nil {
			return gohere.Errorf(gohere.Unavailable, "gate %s: interrupted", deployID)
		}
		if err != nil {
			// Only a restarting server or a network blip is worth waiting
			// out; a refused token or an unknown deploy stays so.
			if gohere.KindOf(err) != gohere.Unavailable {
				return err
			}
			lastErr = err
			if !sleep(ctx, min(b.delay(rand.Float64), time.Until(deadline))) {
				return gohere.Errorf(gohere.Unavailable, "gate %s: interrupted", deployID)
			}
			continue
		}
		answered, lastErr = true, nil
		b.reset()
		p.print(g)
		if g.Settled {
			return settledExit(g)
		}
	}
	return gateTimedOut(deployID, o, p.last, lastErr)
}

// gateTimedOut is the outcome when --timeout ran out: last is the latest
// answer (nil: none came), lastErr why the latest request failed, if it did.
func gateTimedOut(deployID string, o gateOptions, last *client.Gate, lastErr error) error {
	switch {
	case last == nil && o.failOpen:
		fmt.Fprintf(o.err, "gohere: WARNING: gohere unreachable for %s; --fail-open lets the deploy proceed UNJUDGED (%v)\n",
			o.timeout, lastErr)
		return nil
	case last == nil:
		return gohere.Errorf(gohere.Unavailable, "gate %s: server unreachable for %s (--fail-open would let the deploy proceed): %w",
			deployID, o.timeout, lastErr)
	}
	awaited := "a decision"
	if !analysisOver(last.AnalysisState) {
		awaited = "the verdict and a decision"
	}
	msg := fmt.Sprintf("gate %s: timed out after %s waiting for %s (%s)", deployID, o.timeout, awaited, last.Detail)
	if lastErr != nil {
		msg += "; since then: " + lastErr.Error()
	}
	return withExit(exitUndecided, errors.New(msg))
}

// settledExit turns a settled gate into the exit code.
func settledExit(g client.Gate) error {
	switch g.State {
	case "promote":
		return nil
	case "halt":
		return withExit(exitFail, nil) // stdout said who halted and why
	}
	return withExit(exitUndecided, fmt.Errorf("gate %s: %s", g.DeployID, g.Detail))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff spaces the retries against an unreachable server: doubling from
// backoffStart to backoffCap, each pause jittered to 50–150 % so that the
// gates of many pipelines do not come back at the same instant.
type backoff struct{ next time.Duration }

// delay returns the next pause; random returns a number in [0, 1).
func (b *backoff) delay(random func() float64) time.Duration {
	if b.next == 0 {
		b.next = backoffStart
	}
	d := time.Duration(float64(b.next) * (0.5 + random()))
	b.next = min(2*b.next, backoffCap)
	return d
}

func (b *backoff) reset() { b.next = 0 }

// gatePrinter writes one line per change of the gate (-o json: each
// answer that differs from the one before as a JSON line).
type gatePrinter struct {
	o    gateOptions
	last *client.Gate
}

func (p *gatePrinter) print(g client.Gate) {
	prev := p.last
	p.last = &g
	if p.o.json {
		line := mustJSON(g)
		if prev == nil || string(mustJSON(*prev)) != string(line) {
			fmt.Fprintf(p.o.out, "%s\n", line)
		}
		return
	}
	w := p.o.out
	if prev == nil {
		fmt.Fprintf(w, "gate of deploy %s: analysis %s (%s), report %s\n", g.DeployID, g.AnalysisID, g.AnalysisState, g.ReportURL)
		prev = &client.Gate{AnalysisState: "pending"} // tell all that is known already
	}
	if g.Intervals > prev.Intervals && g.Verdict != "" {
		fmt.Fprintf(w, "interval %d: %s, score %s\n", g.Intervals, g.Verdict, score(g.Score))
	}
	ended := analysisOver(g.AnalysisState) && !analysisOver(prev.AnalysisState)
	switch {
	case ended && g.Verdict != "":
		fmt.Fprintf(w, "verdict %s (score %s): %s\n", g.Verdict, score(g.Score), orDash(g.Reason))
	case ended:
		fmt.Fprintf(w, "analysis %s: %s\n", g.AnalysisState, orDash(g.Reason))
	}
	switch {
	case g.Decision != nil && (prev.Decision == nil || *prev.Decision != *g.Decision):
		fmt.Fprintf(w, "%s\n", g.Detail) // who decided, where, and why
	case g.Decision == nil && ended && !g.Settled:
		fmt.Fprintf(w, "%s: approve or halt at %s\n", g.Detail, g.ReportURL)
	}
	if !g.Settled {
		return
	}
	switch {
	case g.State == "promote":
		fmt.Fprintf(w, "promote: deploy %s may proceed\n", g.DeployID)
	case g.State == "halt" && g.Decision != nil:
		fmt.Fprintf(w, "halt: deploy %s must not proceed\n", g.DeployID)
	case g.State == "halt":
		fmt.Fprintf(w, "halt: deploy %s must not proceed: %s\n", g.DeployID, g.Detail)
	default:
		fmt.Fprintf(w, "undecided: deploy %s: %s\n", g.DeployID, g.Detail)
	}
}

func mustJSON(g client.Gate) []byte {
	b, _ := json.Marshal(g) // cannot fail: plain data
	return b
}

// analysisOver: the analysis judges no more intervals.
func analysisOver(state string) bool { return state != "" && state != "pending" && state != "running" }

// score is written as on the report page.
func score(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
