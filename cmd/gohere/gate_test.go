package main

import (
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
	var out syncBuilder
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
}

// syncBuilder is a strings.Builder that a child process' output goroutine
// and the test may use together.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
