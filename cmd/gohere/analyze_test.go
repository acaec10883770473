package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/client"
	"github.com/gohere/gohere/internal/tsdbtest"
)

// TestAnalyzeCommand starts the analysis of a recorded regression with
// `gohere analyze` against a server whose metric store is a real
// VictoriaMetrics holding the scenario: the server judges it Fail.
func TestAnalyzeCommand(t *testing.T) {
	sc, err := fixtures.Load("latency-regression")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Truncate(time.Hour).Add(-2 * time.Hour)
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, tsdbtest.Scenario(sc, start))
	srv := startServer(t, app.Options{PrometheusURL: vm.URL()})
	bare := startServer(t, app.Options{})
	conn := []string{"--server", srv, "--token", testCISecret}
	config := filepath.Join(t.TempDir(), "canary.yaml")
	if err := os.WriteFile(config, sc.Config, 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := gohereCLI(t, append([]string{"deploy", "start", "--service", sc.Service, "--env", sc.Env,
		"--version", sc.Canary, "--baseline", sc.Baseline}, conn...)...)
	if code != 0 {
		t.Fatalf("deploy start: exit %d %s", code, errOut)
	}
	id := regexp.MustCompile(`^deploy (\S+):`).FindStringSubmatch(out)[1]

	code, out, errOut = gohereCLI(t, append([]string{"analyze", id, "--config", config,
		"--start", start.Format(time.RFC3339), "--end", start.Add(sc.Duration).Format(time.RFC3339)}, conn...)...)
	m := regexp.MustCompile(`^analysis (\S+) of deploy ` + id + `: pending, ` + sc.Baseline + ` → ` + sc.Canary + `, judges at once .*\nreport:  ` +
		regexp.QuoteMeta(srv+"/deploys/"+id) + `#analysis-(\S+)\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] != m[2] {
		t.Fatalf("analyze: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	c, err := client.New(srv, testCISecret, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var a client.Analysis
	waitUntil(t, "the analysis to end", 30*time.Second, func() bool {
		a, err = c.GetAnalysis(t.Context(), m[1])
		return err == nil && !a.Active()
	})
	if a.Verdict != gohere.VerdictFail {
		t.Errorf("the regression was judged %s (%s), want Fail", a.Verdict, a.State)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("thresholds: {pass: 50, marginal: 75}\nmetrics:\n  - name: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no config", append([]string{"analyze", id}, conn...), "--config is required"},
		{"missing file", append([]string{"analyze", id, "--config", filepath.Join(t.TempDir(), "nope.yaml")}, conn...), "no such file"},
		{"invalid config", append([]string{"analyze", id, "--config", bad}, conn...), "2 problems:\npass 50 is below marginal 75\nmetrics[0].query (line 3)"},
		{"unknown deploy", append([]string{"analyze", "nope", "--config", config}, conn...), "nope"},
		{"bad start", append([]string{"analyze", id, "--config", config, "--start", "soon"}, conn...), "--start"},
		{"server without a metric store", []string{"analyze", id, "--config", config, "--server", bare, "--token", testCISecret}, "--prometheus-url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gohereCLI(t, tt.args...)
			checkLines(t, code, out, errOut, strings.Split(tt.msg, "\n")) // a config's problems: a line each
		})
	}
}
