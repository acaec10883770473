package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/browsertest"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/tsdbtest"
)

// gateProcess runs `gohere gate` as a separate process, as CI would.
type gateProcess struct {
	cmd *exec.Cmd
	out *syncBuffer
}

func startGateProcess(t *testing.T, srv, id, timeout string) *gateProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "gate", id, "--server", srv, "--timeout", timeout)
	cmd.Env = append(os.Environ(), "GOHERE_TEST_RUN_MAIN=1", "GOHERE_TOKEN="+testCISecret)
	p := &gateProcess{cmd: cmd, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return p
}

func (p *gateProcess) exit(t *testing.T) int {
	t.Helper()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("gate still running after 90s:\n%s", p.out)
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestDecideInBrowser is a person's part of a canary in headless
// Chromium against a server whose metric store is a real VictoriaMetrics
// holding the fixtures: sign in with a human token, read the failing
// canary's report (its High metric and plot), Halt it with a reason → the
// waiting `gohere gate` exits 1; Approve the passing one → exit 0; an
// undecided one's gate exits 2 at its timeout.
func TestDecideInBrowser(t *testing.T) {
	vm := tsdbtest.StartVictoriaMetrics(t)
	hour := time.Now().Truncate(time.Hour)
	placed := map[string]time.Time{"latency-regression": hour.Add(-2 * time.Hour), "healthy": hour.Add(-4 * time.Hour)}
	scs := map[string]fixtures.Scenario{}
	for name, at := range placed {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		vm.Import(t, tsdbtest.Scenario(sc, at))
		scs[name] = sc
	}
	srv := startServer(t, app.Options{PrometheusURL: vm.URL()})
	ci, err := client.New(srv, testCISecret, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	deploy := func(name string) (client.DeployView, client.Analysis) {
		sc, at := scs[name], placed[name]
		d, err := ci.StartDeploy(t.Context(), client.StartRequest{Service: sc.Service, Env: sc.Env, Version: sc.Canary,
			BaselineVersion: sc.Baseline, StartedAt: at, Author: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		a, err := ci.StartAnalysis(t.Context(), d.ID, sc.Config, at, at.Add(sc.Duration))
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, name+"'s verdict", 60*time.Second, func() bool {
			a, err = ci.GetAnalysis(t.Context(), a.ID)
			return err == nil && !a.Active()
		})
		return d, a
	}
	failing, _ := deploy("latency-regression")
	passing, _ := deploy("healthy")
	undecided, _ := deploy("healthy")
	haltGate := startGateProcess(t, srv, failing.ID, "90s")
	approveGate := startGateProcess(t, srv, passing.ID, "90s")
	timeoutGate := startGateProcess(t, srv, undecided.ID, "4s")

	ctx := browsertest.New(t, 90*time.Second)
	shot := func(name string) {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(85))
		if err != nil {
			t.Fatal(err)
		}
		path := browsertest.Artifact(t, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// Not signed in: the report offers to sign in instead of the buttons.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/deploys/"+failing.ID)); err != nil {
		t.Fatal(err)
	}
	offer, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.decide")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer, "Sign in") {
		t.Errorf("signed out, the decision section says %q; want a sign-in link", offer)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/login?next=/deploys/"+failing.ID),
		chromedp.SendKeys(chromedp.CSS("#token"), testHumanSecret),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("button.halt"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".viewer-name")))
	if err != nil {
		t.Fatal(err)
	}
	high, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('table.metrics tr.label-High').length`))
	if err != nil {
		t.Fatal(err)
	}
	plots, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('figure.metric-plot svg path.series').length`))
	if err != nil {
		t.Fatal(err)
	}
	if who != "alice" || high == 0 || plots == 0 {
		t.Errorf("the failing report, signed in: viewer %q, %d High metrics, %d plotted series; want alice, ≥1, ≥1", who, high, plots)
	}
	shot("decide-failing-report.jpg")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("section.decide input[name=reason]"), "p99 up 31 %, rolling back"),
		chromedp.Click(chromedp.CSS("button.halt")),
		chromedp.WaitVisible(chromedp.CSS("table.decisions tr.decision-halt"))); err != nil {
		t.Fatalf("halt: %v", err)
	}
	standing, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".standing")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(standing, "halted by alice (page): p99 up 31 %, rolling back") {
		t.Errorf("after Halt the analysis reads %q", standing)
	}
	shot("decide-halted.jpg")
	if code := haltGate.exit(t); code != exitFail {
		t.Errorf("gate of the halted canary: exit %d, want 1\n%s", code, haltGate.out)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv+"/deploys/"+passing.ID),
		chromedp.SendKeys(chromedp.CSS("section.decide input[name=reason]"), "all green"),
		chromedp.Click(chromedp.CSS("button.approve")),
		chromedp.WaitVisible(chromedp.CSS("table.decisions tr.decision-approve"))); err != nil {
		t.Fatalf("approve: %v", err)
	}
	shot("decide-approved.jpg")
	if code := approveGate.exit(t); code != exitOK {
		t.Errorf("gate of the approved canary: exit %d, want 0\n%s", code, approveGate.out)
	}
	if code := timeoutGate.exit(t); code != exitUndecided {
		t.Errorf("gate of the undecided canary: exit %d, want 2\n%s", code, timeoutGate.out)
	}
}
