package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/grafanatest"
	"github.com/gohere/gohere/internal/tsdbtest"
)

// scenarioDeploy records a running canary deploy of a placed scenario and
// starts its (retrospective) analysis.
func scenarioDeploy(t *testing.T, c *client.Client, sc placedScenario) (client.DeployView, client.Analysis) {
	t.Helper()
	d, err := c.StartDeploy(t.Context(), client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary,
		BaselineVersion: sc.Baseline, StartedAt: sc.deployed})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.StartAnalysis(t.Context(), d.ID, sc.Config, sc.start, sc.end)
	if err != nil {
		t.Fatal(err)
	}
	return d, a
}

func scenario(t *testing.T, name string) placedScenario {
	t.Helper()
	all, _, err := placeScenarios(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		if sc.Name == name {
			return sc
		}
	}
	t.Fatalf("no scenario %s", name)
	return placedScenario{}
}

type gateRun struct {
	code        int
	out, errOut string
}

func startGate(t *testing.T, args ...string) <-chan gateRun {
	t.Helper()
	done := make(chan gateRun, 1)
	go func() {
		code, out, errOut := gohereCLI(t, append([]string{"gate"}, args...)...)
		done <- gateRun{code, out, errOut}
	}()
	return done
}

func waitGate(t *testing.T, done <-chan gateRun) gateRun {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(90 * time.Second):
		t.Fatal("gate did not return")
	}
	return gateRun{}
}

func TestGateCommand(t *testing.T) {
	_, src, err := placeScenarios(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, app.Options{Source: src})
	ci, err := client.New(srv, testCISecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	human, err := client.New(srv, testHumanSecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn := []string{"--server", srv, "--token", testCISecret}

	for _, tc := range []struct {
		scenario string
		decide   gohere.DecisionKind
		reason   string
		want     int
		lines    []string
	}{
		{"healthy", gohere.DecisionApprove, "all green", exitOK, []string{"Pass, score 100", "verdict Pass", "approved by alice (api): all green", "promote: "}},
		{"latency-regression", gohere.DecisionHalt, "p99 up 31 %", exitFail, []string{"verdict Fail", "halted by alice (api): p99 up 31 %", "halt: "}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			d, a := scenarioDeploy(t, ci, scenario(t, tc.scenario))
			done := startGate(t, append([]string{d.ID, "--timeout", "60s"}, conn...)...)
			waitUntil(t, "the verdict", 30*time.Second, func() bool {
				a, err = ci.GetAnalysis(t.Context(), a.ID)
				return err == nil && !a.Active()
			})
			if _, err := human.Decide(t.Context(), a.ID, tc.decide, tc.reason); err != nil {
				t.Fatal(err)
			}
			r := waitGate(t, done)
			if r.code != tc.want {
				t.Fatalf("gate: exit %d, want %d\nstdout %s\nstderr %s", r.code, tc.want, r.out, r.errOut)
			}
			for _, l := range tc.lines {
				if !strings.Contains(r.out, l) {
					t.Errorf("gate output lacks %q:\n%s", l, r.out)
				}
			}
			// A second gate on the same deploy answers at once.
			if r := waitGate(t, startGate(t, append([]string{d.ID, "-o", "json"}, conn...)...)); r.code != tc.want || !strings.Contains(r.out, `"settled":true`) {
				t.Errorf("second gate: exit %d, %s %s", r.code, r.out, r.errOut)
			}
		})
	}

	t.Run("undecided times out", func(t *testing.T) {
		d, _ := scenarioDeploy(t, ci, scenario(t, "no-traffic"))
		r := waitGate(t, startGate(t, append([]string{d.ID, "--timeout", "3s"}, conn...)...))
		if r.code != exitUndecided || !strings.Contains(r.errOut, "timed out after 3s") {
			t.Errorf("undecided gate: exit %d, stderr %q", r.code, r.errOut)
		}
	})
	t.Run("finished undecided", func(t *testing.T) {
		d, a := scenarioDeploy(t, ci, scenario(t, "healthy"))
		waitUntil(t, "the verdict", 30*time.Second, func() bool {
			a, err = ci.GetAnalysis(t.Context(), a.ID)
			return err == nil && !a.Active()
		})
		if _, err := ci.FinishDeploy(t.Context(), d.ID, gohere.StatusSucceeded); err != nil {
			t.Fatal(err)
		}
		r := waitGate(t, startGate(t, append([]string{d.ID}, conn...)...))
		if r.code != exitUndecided || !strings.Contains(r.errOut, "not decided (deploy finished succeeded)") {
			t.Errorf("gate of a deploy finished undecided: exit %d, stderr %q", r.code, r.errOut)
		}
	})
	plain, err := ci.StartDeploy(t.Context(), client.StartRequest{Service: "cart", Env: "prod", Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown deploy", append([]string{"nope"}, conn...), "not found"},
		{"no analysis", append([]string{plain.ID}, conn...), "has no canary analysis"},
		{"bad token", []string{plain.ID, "--server", srv, "--token", "wrong-token-0123456789"}, "401"},
		{"no id", conn, "want deploy ID"},
		{"bad timeout", append([]string{plain.ID, "--timeout", "-1s"}, conn...), "--timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := waitGate(t, startGate(t, tc.args...))
			if r.code != exitError || !strings.Contains(r.errOut, tc.msg) || strings.Count(r.errOut, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 3 and one line with %q", r.code, r.errOut, tc.msg)
			}
		})
	}
}

func TestGateWithoutServer(t *testing.T) {
	closed := "http://" + freeAddr(t)
	r := waitGate(t, startGate(t, "d-1", "--server", closed, "--token", testCISecret, "--timeout", "2s", "--fail-open"))
	if r.code != exitOK || !strings.Contains(r.errOut, "WARNING") || !strings.Contains(r.errOut, "UNJUDGED") {
		t.Errorf("--fail-open without a server: exit %d, stderr %q; want 0 and a loud warning", r.code, r.errOut)
	}
	r = waitGate(t, startGate(t, "d-1", "--server", closed, "--token", testCISecret, "--timeout", "2s"))
	if r.code != exitError || !strings.Contains(r.errOut, "unreachable") {
		t.Errorf("no server: exit %d, stderr %q; want 3", r.code, r.errOut)
	}
}

// TestGateSurvivesSIGKILL: a gate keeps waiting while `gohere serve` is
// killed and restarted, and ends with the decision made after the restart;
// the Grafana annotation then carries the verdict and the decision.
func TestGateSurvivesSIGKILL(t *testing.T) {
	sc, err := fixtures.Load("latency-regression")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Truncate(time.Hour).Add(-2 * time.Hour)
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, tsdbtest.Scenario(sc, start))
	g := grafanatest.New(t, grafanatest.Options{})
	db, addr := filepath.Join(t.TempDir(), "gohere.db"), freeAddr(t)
	p := startServeAt(t, addr, db, g, "--prometheus-url", vm.URL())
	ci, err := client.New(p.url, testCISecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ci.StartDeploy(t.Context(), client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary,
		BaselineVersion: sc.Baseline, StartedAt: start})
	if err != nil {
		t.Fatal(err)
	}
	a, err := ci.StartAnalysis(t.Context(), d.ID, sc.Config, start, start.Add(sc.Duration))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the verdict", 30*time.Second, func() bool {
		a, err = ci.GetAnalysis(t.Context(), a.ID)
		return err == nil && !a.Active()
	})

	gateCmd := exec.Command(p.cmd.Path, "gate", d.ID, "--server", p.url, "--timeout", "90s")
	gateCmd.Env = append(p.cmd.Env[:len(p.cmd.Env):len(p.cmd.Env)], "GOHERE_TOKEN="+testCISecret)
	var out syncBuffer
	gateCmd.Stdout, gateCmd.Stderr = &out, &out
	if err := gateCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gateCmd.Process.Kill() })
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "verdict Fail"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gate printed no verdict in 30s:\n%s", out.String())
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	time.Sleep(2 * time.Second) // the gate retries against a closed port meanwhile
	p = startServeAt(t, addr, db, g, "--prometheus-url", vm.URL())
	human, err := client.New(p.url, testHumanSecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := human.Decide(t.Context(), a.ID, gohere.DecisionHalt, "p99 up 31 %"); err != nil {
		t.Fatal(err)
	}
	err = gateCmd.Wait()
	if code := gateCmd.ProcessState.ExitCode(); code != exitFail {
		t.Fatalf("gate across a restart: exit %d (%v), want 1\n%s", code, err, out.String())
	}
	waitUntil(t, "the annotation with the decision", 30*time.Second, func() bool {
		for _, an := range g.Annotations() {
			if slices.Contains(an.Tags, "decision:halt") && slices.Contains(an.Tags, "verdict:Fail") &&
				slices.Contains(an.Tags, "status:halted") && strings.Contains(an.Text, "halted by alice: p99 up 31 %") {
				return true
			}
		}
		return false
	})
	if n := len(g.Annotations()); n != 1 {
		t.Errorf("%d annotations of one deploy, want 1", n)
	}
	if m := scrape(t, p.url); !strings.Contains(m, `gohere_grafana_state{state="ok"} 1`) {
		t.Errorf("/metrics does not say Grafana takes the annotations:\n%s", m)
	}

	// The decision survives another kill.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	p = startServeAt(t, addr, db, g, "--prometheus-url", vm.URL())
	got, err := ci.GetAnalysis(t.Context(), a.ID)
	if err != nil || got.Decision == nil || got.Decision.Kind != gohere.DecisionHalt || got.Decision.Actor != "alice" {
		t.Fatalf("after a second restart: decision %+v, %v; want the halt by alice", got.Decision, err)
	}
	if r := waitGate(t, startGate(t, d.ID, "--server", p.url, "--token", testCISecret)); r.code != exitFail {
		t.Errorf("gate after a second restart: exit %d, want 1", r.code)
	}
}

// TestGateFailOpenNeedsSilence: --fail-open lets a deploy through only when
// the server never answered; a server lost after answering is a timeout.
func TestGateFailOpenNeedsSilence(t *testing.T) {
	srv, ci, _ := gateServer(t)
	d, _ := scenarioDeploy(t, ci, scenario(t, "no-traffic"))
	px := startProxy(t, strings.TrimPrefix(srv, "http://"))
	out, errOut, code := runGate(t, d.ID, "--server", px.url(), "--token", testCISecret, "--timeout", "4s", "--fail-open")
	waitUntil(t, "the first answer", 10*time.Second, func() bool { return strings.Contains(out.String(), "gate of deploy") })
	px.down()
	c := waitCode(t, code)
	if e := errOut.String(); c != exitUndecided || !strings.Contains(e, "timed out after 4s") || !strings.Contains(e, "since then") ||
		strings.Contains(e, "WARNING") {
		t.Errorf("gate that lost its server: exit %d, stderr %q; want 2, timed out, the server lost since", c, e)
	}
}

// TestGateRidesOutBlips: connections cut and refused for a while (a load
// balancer failing over) do not end a gate; the decision made after them
// does.
func TestGateRidesOutBlips(t *testing.T) {
	srv, ci, human := gateServer(t)
	d, a := scenarioDeploy(t, ci, scenario(t, "healthy"))
	px := startProxy(t, strings.TrimPrefix(srv, "http://"))
	out, errOut, code := runGate(t, d.ID, "--server", px.url(), "--token", testCISecret, "--timeout", "60s")
	waitUntil(t, "the verdict", 30*time.Second, func() bool { return strings.Contains(out.String(), "verdict Pass") })
	for _, outage := range []time.Duration{1500 * time.Millisecond, 700 * time.Millisecond} {
		n := px.accepted()
		px.down() // cuts the waiting long poll
		time.Sleep(outage)
		px.up(t)
		waitUntil(t, "the gate back", 15*time.Second, func() bool { return px.accepted() > n })
	}
	if _, err := human.Decide(t.Context(), a.ID, gohere.DecisionApprove, "all green"); err != nil {
		t.Fatal(err)
	}
	if c := waitCode(t, code); c != exitOK || !strings.Contains(out.String(), "approved by alice (api): all green") {
		t.Errorf("gate through two outages: exit %d\nstdout %s\nstderr %s", c, out, errOut)
	}
}

// gateServer starts an in-process server whose analyses read the demo's
// fixture scenarios, with a ci and a human client.
func gateServer(t *testing.T) (url string, ci, human *client.Client) {
	t.Helper()
	_, src, err := placeScenarios(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	url = startServer(t, app.Options{Source: src})
	if ci, err = client.New(url, testCISecret, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if human, err = client.New(url, testHumanSecret, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return url, ci, human
}

// runGate runs `gohere gate` in-process in the background; the test reads
// its output while it runs.
func runGate(t *testing.T, args ...string) (out, errOut *syncBuffer, code <-chan int) {
	t.Helper()
	out, errOut = &syncBuffer{}, &syncBuffer{}
	c := make(chan int, 1)
	go func() { c <- run(t.Context(), append([]string{"gate"}, args...), strings.NewReader(""), out, errOut) }()
	return out, errOut, c
}

func waitCode(t *testing.T, code <-chan int) int {
	t.Helper()
	select {
	case c := <-code:
		return c
	case <-time.After(90 * time.Second):
		t.Fatal("gate did not return")
	}
	return 0
}

// tcpProxy forwards a port to the server and can go down (closing its
// listener and cutting every connection) and up again on the same port:
// the network between gate and server, not a double of gohere.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
	n            int
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{addr: freeAddr(t), target: target, conns: map[net.Conn]bool{}}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) url() string { return "http://" + p.addr }

func (p *tcpProxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.n++
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) { io.Copy(dst, src); done <- struct{}{} }
	go cp(s, c)
	go cp(c, s)
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

func (p *tcpProxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func TestGateBackoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		random float64
		want   []time.Duration
	}{
		{"middle", 0.5, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"low", 0, []time.Duration{125 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 2500 * time.Millisecond}},
		{"high", 0.999, []time.Duration{374750 * time.Microsecond, 749500 * time.Microsecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b backoff
			for i, want := range tc.want {
				if got := b.delay(func() float64 { return tc.random }); got != want {
					t.Errorf("retry %d: pause %s, want %s", i+1, got, want)
				}
			}
			b.reset()
			if got, want := b.delay(func() float64 { return tc.random }), tc.want[0]; got != want {
				t.Errorf("after an answer: pause %s, want %s again", got, want)
			}
		})
	}
}

func TestGatePrinter(t *testing.T) {
	const report = "http://gohere/deploys/d1#analysis-a1"
	base := client.Gate{State: "waiting", DeployID: "d1", DeployStatus: gohere.StatusRunning, AnalysisID: "a1", ReportURL: report}
	with := func(f func(*client.Gate)) client.Gate {
		g := base
		f(&g)
		return g
	}
	pending := with(func(g *client.Gate) {
		g.AnalysisState, g.Detail = "pending", "waiting for the first interval, due 10:05"
	})
	running := with(func(g *client.Gate) {
		g.AnalysisState, g.Intervals, g.Verdict, g.Score = "running", 3, gohere.VerdictPass, 100
		g.Detail = "judging: 3 interval(s) judged, the next due 10:20"
	})
	failed := with(func(g *client.Gate) {
		g.AnalysisState, g.Intervals, g.Verdict, g.Score = "awaiting_decision", 6, gohere.VerdictFail, 0
		g.Reason, g.Detail = "latency: mean_ratio 1.31 > 1.2", "awaiting a decision: Fail, score 0"
	})
	halted := with(func(g *client.Gate) {
		*g = failed
		g.State, g.Settled, g.AnalysisState, g.DeployStatus = "halt", true, "halted", gohere.StatusHalted
		g.Decision = &gohere.Decision{Kind: gohere.DecisionHalt, Actor: "bob", Reason: "p99 up 30%", Source: gohere.SourcePage}
		g.Detail = "halted by bob (page): p99 up 30%"
	})
	passed := with(func(g *client.Gate) {
		g.AnalysisState, g.Intervals, g.Verdict, g.Score = "awaiting_decision", 6, gohere.VerdictPass, 97.5
		g.Reason, g.Detail = "all metrics within bounds", "awaiting a decision: Pass, score 97.5"
	})
	approved := with(func(g *client.Gate) {
		*g = passed
		g.State, g.Settled, g.AnalysisState = "promote", true, "approved"
		g.Decision = &gohere.Decision{Kind: gohere.DecisionApprove, Actor: "alice", Reason: "all green", Source: gohere.SourceAPI}
		g.Detail = "approved by alice (api): all green"
	})
	finished := func(s gohere.Status, state string) client.Gate {
		g := passed
		g.State, g.Settled, g.DeployStatus, g.Detail = state, true, s, "not decided (deploy finished "+string(s)+")"
		return g
	}
	broken := with(func(g *client.Gate) {
		g.AnalysisState, g.Intervals, g.Verdict, g.Reason = "error", 1, "", "replay: no recording"
		g.Detail = "awaiting a decision: the analysis could not run: replay: no recording"
	})
	for _, tc := range []struct {
		name    string
		json    bool
		answers []client.Gate
		want    string
	}{
		{"judged then halted", false, []client.Gate{pending, running, running, failed, failed, halted}, `gate of deploy d1: analysis a1 (pending), report ` + report + `
interval 3: Pass, score 100
interval 6: Fail, score 0
verdict Fail (score 0): latency: mean_ratio 1.31 > 1.2
awaiting a decision: Fail, score 0: approve or halt at ` + report + `
halted by bob (page): p99 up 30%
halt: deploy d1 must not proceed
`},
		{"settled at once", false, []client.Gate{approved}, `gate of deploy d1: analysis a1 (approved), report ` + report + `
interval 6: Pass, score 97.5
verdict Pass (score 97.5): all metrics within bounds
approved by alice (api): all green
promote: deploy d1 may proceed
`},
		{"finished undecided", false, []client.Gate{passed, finished(gohere.StatusSucceeded, "waiting")}, `gate of deploy d1: analysis a1 (awaiting_decision), report ` + report + `
interval 6: Pass, score 97.5
verdict Pass (score 97.5): all metrics within bounds
awaiting a decision: Pass, score 97.5: approve or halt at ` + report + `
undecided: deploy d1: not decided (deploy finished succeeded)
`},
		{"deploy failed undecided", false, []client.Gate{running, finished(gohere.StatusFailed, "halt")}, `gate of deploy d1: analysis a1 (running), report ` + report + `
interval 3: Pass, score 100
interval 6: Pass, score 97.5
verdict Pass (score 97.5): all metrics within bounds
halt: deploy d1 must not proceed: not decided (deploy finished failed)
`},
		{"analysis error", false, []client.Gate{pending, broken}, `gate of deploy d1: analysis a1 (pending), report ` + report + `
analysis error: replay: no recording
awaiting a decision: the analysis could not run: replay: no recording: approve or halt at ` + report + `
`},
		{"json: one line per new answer", true, []client.Gate{running, running, failed, halted}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			p := gatePrinter{o: gateOptions{json: tc.json, out: &out}}
			for _, g := range tc.answers {
				p.print(g)
			}
			if !tc.json {
				if out.String() != tc.want {
					t.Errorf("printed\n%s\nwant\n%s", out.String(), tc.want)
				}
				return
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("%d lines, want 3 (the repeated answer once):\n%s", len(lines), out.String())
			}
			for i, want := range []client.Gate{running, failed, halted} {
				var got client.Gate
				if err := json.Unmarshal([]byte(lines[i]), &got); err != nil || got.State != want.State || got.Intervals != want.Intervals || got.Detail != want.Detail {
					t.Errorf("line %d: %s (%v); want the answer %+v", i+1, lines[i], err, want)
				}
			}
		})
	}
}

// TestGateOutcome maps how a gate ended to the exit code and message.
func TestGateOutcome(t *testing.T) {
	waiting := client.Gate{State: "waiting", DeployID: "d1", AnalysisState: "awaiting_decision", Detail: "awaiting a decision: Marginal, score 60"}
	judging := client.Gate{State: "waiting", DeployID: "d1", AnalysisState: "running", Detail: "judging: 2 interval(s) judged"}
	refused := gohere.Errorf(gohere.Unavailable, "GET /api/v1/deploys/d1/gate: server unreachable: connection refused")
	for _, tc := range []struct {
		name            string
		err             func(o gateOptions) error
		failOpen        bool
		code            int
		msg, stderrWant string
	}{
		{"promote", func(gateOptions) error { return settledExit(client.Gate{State: "promote", Settled: true}) }, false, exitOK, "", ""},
		{"halt", func(gateOptions) error { return settledExit(client.Gate{State: "halt", Settled: true}) }, false, exitFail, "", ""},
		{"finished undecided", func(gateOptions) error {
			return settledExit(client.Gate{State: "waiting", Settled: true, DeployID: "d1", Detail: "not decided (deploy finished succeeded)"})
		}, false, exitUndecided, "gate d1: not decided (deploy finished succeeded)", ""},
		{"timeout awaiting a decision", func(o gateOptions) error { return gateTimedOut("d1", o, &waiting, nil) }, true, exitUndecided,
			"gate d1: timed out after 5m0s waiting for a decision (awaiting a decision: Marginal, score 60)", ""},
		{"timeout while judging", func(o gateOptions) error { return gateTimedOut("d1", o, &judging, nil) }, false, exitUndecided,
			"gate d1: timed out after 5m0s waiting for the verdict and a decision (judging: 2 interval(s) judged)", ""},
		{"server lost after answering", func(o gateOptions) error { return gateTimedOut("d1", o, &waiting, refused) }, true, exitUndecided,
			"since then: GET /api/v1/deploys/d1/gate: server unreachable: connection refused", ""},
		{"never reached", func(o gateOptions) error { return gateTimedOut("d1", o, nil, refused) }, false, exitError,
			"gate d1: server unreachable for 5m0s", ""},
		{"never reached, fail open", func(o gateOptions) error { return gateTimedOut("d1", o, nil, refused) }, true, exitOK,
			"", "gohere: WARNING: gohere unreachable for 5m0s; --fail-open lets the deploy proceed UNJUDGED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			err := tc.err(gateOptions{timeout: 5 * time.Minute, failOpen: tc.failOpen, err: &stderr})
			if got := exitCode(err); got != tc.code {
				t.Errorf("exit %d (%v), want %d", got, err, tc.code)
			}
			var msg string
			if ec, ok := errors.AsType[*exitCodeError](err); err != nil && (!ok || ec.err != nil) {
				msg = err.Error()
			}
			if tc.msg == "" && msg != "" || !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q, want %q", msg, tc.msg)
			}
			if s := stderr.String(); tc.stderrWant == "" && s != "" || !strings.Contains(s, tc.stderrWant) {
				t.Errorf("stderr %q, want %q", s, tc.stderrWant)
			}
		})
	}
}
