package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// shippedTemplates is fixtures/templates, what the README tells users to
// start from.
var shippedTemplates = filepath.Join("..", "..", "fixtures", "templates")

// TestDeployStartAnalyze records deploys of recorded scenarios, each at
// its own hour in a real VictoriaMetrics, after the fact: with `deploy
// start --analyze` the analysis starts in the same request; without it the
// server's shipped default template starts one for every canary. Each
// analysis is judged at once (the window is past) and must reach the
// scenario's verdict: the shipped template works on the conventions'
// series.
func TestDeployStartAnalyze(t *testing.T) {
	hour := time.Now().Truncate(time.Hour)
	vm := tsdbtest.StartVictoriaMetrics(t)
	type placed struct {
		fixtures.Scenario
		start time.Time
	}
	var scenarios []placed
	for i, name := range []string{"healthy", "latency-regression", "error-burst", "no-traffic"} {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		p := placed{sc, hour.Add(-time.Duration(i+1) * time.Hour)}
		vm.Import(t, tsdbtest.Scenario(sc, p.start))
		scenarios = append(scenarios, p)
	}
	srv := startServer(t, app.Options{PrometheusURL: vm.URL(), CanaryTemplates: shippedTemplates})
	conn := []string{"--server", srv, "--token", testCISecret}
	c, err := client.New(srv, testCISecret, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := func(p placed, extra ...string) []string {
		return append(append([]string{"deploy", "start", "--service", p.Service, "--env", p.Env, "--version", p.Canary,
			"--baseline", p.Baseline, "--started-at", p.start.Format(time.RFC3339)}, extra...), conn...)
	}
	judged := func(t *testing.T, id string) client.Analysis {
		t.Helper()
		var a client.Analysis
		waitUntil(t, "analysis "+id+" to end", 30*time.Second, func() bool {
			a, err = c.GetAnalysis(t.Context(), id)
			return err == nil && !a.Active()
		})
		return a
	}
	defaultTemplate, err := os.ReadFile(filepath.Join(shippedTemplates, "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("--analyze", func(t *testing.T) {
		p := scenarios[1] // latency-regression, with its own config
		config := filepath.Join(t.TempDir(), "canary.yaml")
		if err := os.WriteFile(config, p.Config, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := gohereCLI(t, start(p, "--analyze", config)...)
		m := regexp.MustCompile(`^deploy (\S+): .*\nGO HERE: http\S+\nreport:  ` + regexp.QuoteMeta(srv) +
			`/deploys/(\S+)#analysis-(\S+)\nanalysis: (\S+) \(pending\)\n$`).FindStringSubmatch(out)
		if code != 0 || m == nil || m[1] != m[2] || m[3] != m[4] {
			t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant the deploy, GO HERE, the report of its analysis and the analysis line", code, out, errOut)
		}
		a := judged(t, m[3])
		if a.DeployID != m[1] || a.Config != string(p.Config) || a.Verdict != gohere.VerdictFail || !a.StartAt.Equal(p.start) {
			t.Errorf("analysis of deploy %s: deploy %s, own config %t, verdict %s, start %s; want the scenario's config, Fail, from the deploy's start %s",
				m[1], a.DeployID, a.Config == string(p.Config), a.Verdict, a.StartAt, p.start)
		}
	})

	t.Run("default template", func(t *testing.T) {
		for _, p := range scenarios {
			t.Run(p.Name, func(t *testing.T) {
				code, out, errOut := gohereCLI(t, start(p, "-o", "json")...)
				var d client.DeployView
				if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Judgement == nil || d.Judgement.AnalysisID == "" {
					t.Fatalf("exit %d, stderr %q, printed %s; want a deploy with its judgement", code, errOut, out)
				}
				a := judged(t, d.Judgement.AnalysisID)
				if a.Config != string(defaultTemplate) {
					t.Errorf("config of the analysis is not default.yaml as written:\n%s", a.Config)
				}
				if a.Verdict != p.Expected {
					var reasons []string
					for _, iv := range a.Intervals {
						reasons = append(reasons, string(iv.Verdict)+" "+iv.Error+" "+string(iv.Report))
					}
					t.Errorf("default template judged %s %s (%s), want %s; intervals:\n%s", p.Name, a.Verdict, a.State, p.Expected, strings.Join(reasons, "\n"))
				}
			})
		}
	})

	t.Run("stage full", func(t *testing.T) {
		code, out, errOut := gohereCLI(t, start(scenarios[0], "--stage", "full")...)
		if code != 0 || strings.Count(out, "\n") != 3 || strings.Contains(out, "analysis") {
			t.Errorf("exit %d, stderr %q, printed %q; want a deploy without analysis", code, errOut, out)
		}
	})

	t.Run("no baseline", func(t *testing.T) {
		code, out, errOut := gohereCLI(t, append([]string{"deploy", "start", "--service", "newsvc", "--env", "prod", "--version", "v1"}, conn...)...)
		if code != 0 || !regexp.MustCompile(`\nanalysis: none \(canary template default\.yaml: .*baseline.*\)\n$`).MatchString(out) {
			t.Errorf("exit %d, stderr %q, printed %q; want the deploy and why no analysis started", code, errOut, out)
		}
	})

	bare := startServer(t, app.Options{})
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("thresholds: {pass: 50, marginal: 75}\nmetrics:\n  - name: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(shippedTemplates, "default.yaml")
	for _, tt := range []struct {
		name string
		args []string
		msg  string
	}{
		{"missing file", append([]string{"deploy", "start", "--service", "s1", "--env", "prod", "--version", "v2", "--baseline", "v1",
			"--analyze", filepath.Join(t.TempDir(), "nope.yaml")}, conn...), "no such file"},
		{"invalid config", append([]string{"deploy", "start", "--service", "s1", "--env", "prod", "--version", "v2", "--baseline", "v1",
			"--analyze", bad}, conn...), "2 problems:\npass 50 is below marginal 75\nmetrics[0].query (line 3)"},
		{"no baseline", append([]string{"deploy", "start", "--service", "s1", "--env", "prod", "--version", "v2",
			"--analyze", good}, conn...), "baseline"},
		{"server without a metric store", []string{"deploy", "start", "--service", "s1", "--env", "prod", "--version", "v2", "--baseline", "v1",
			"--analyze", good, "--server", bare, "--token", testCISecret}, "--prometheus-url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gohereCLI(t, tt.args...)
			checkLines(t, code, out, errOut, strings.Split(tt.msg, "\n")) // a config's problems: a line each
		})
	}
	for _, s := range []string{srv, bare} {
		sc, err := client.New(s, testCISecret, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ds, err := sc.ListDeploys(t.Context(), gohere.DeployFilter{Service: "s1"}); err != nil || len(ds) != 0 {
			t.Errorf("%s: deploys of s1 %v (%v); a refused --analyze records nothing", s, ds, err)
		}
	}
}

// TestServeBadCanaryTemplates: a template that would fail deploys stops
// `gohere serve` at start with exit 3, naming the file and line.
func TestServeBadCanaryTemplates(t *testing.T) {
	t.Setenv("GOHERE_TOKENS", "ci:pipeline:"+testCISecret)
	t.Setenv("GOHERE_GRAFANA_TOKEN", "")
	dir := func(files map[string]string) string {
		d := t.TempDir()
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	good, err := os.ReadFile(filepath.Join(shippedTemplates, "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	unknownField := dir(map[string]string{"default.yaml": string(good), "checkout.yaml": "metrics:\n  - name: a\n    qeury: up\n"})
	for _, tt := range []struct {
		name string
		args []string
		msg  []string
	}{
		{"unknown field", []string{"--canary-templates", unknownField, "--prometheus-url", "http://127.0.0.1:1"},
			[]string{filepath.Join(unknownField, "checkout.yaml"), "line 3", "qeury"}},
		{"no lifetime", []string{"--canary-templates", dir(map[string]string{"default.yaml": strings.Replace(string(good), "lifetime: 30m", "", 1)}),
			"--prometheus-url", "http://127.0.0.1:1"}, []string{"default.yaml", "lifetime"}},
		{"bad query template", []string{"--canary-templates", dir(map[string]string{"default.yaml": strings.Replace(string(good), `env="{{.Env}}"`, `env="{{.Envv}}"`, 1)}),
			"--prometheus-url", "http://127.0.0.1:1"}, []string{"default.yaml", "Envv"}},
		{"not a service name", []string{"--canary-templates", dir(map[string]string{"check:out.yaml": string(good)}),
			"--prometheus-url", "http://127.0.0.1:1"}, []string{"check:out.yaml", "not allowed"}},
		{".yml", []string{"--canary-templates", dir(map[string]string{"checkout.yml": string(good)}),
			"--prometheus-url", "http://127.0.0.1:1"}, []string{"checkout.yml", "checkout.yaml"}},
		{"no such directory", []string{"--canary-templates", filepath.Join(t.TempDir(), "nope"), "--prometheus-url", "http://127.0.0.1:1"},
			[]string{"--canary-templates", "no such file"}},
		{"no metric store", []string{"--canary-templates", shippedTemplates}, []string{"--prometheus-url"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A template that loads would serve until the deadline.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "gohere.db")}, tt.args...),
				strings.NewReader(""), &stdout, &stderr)
			out, errOut := stdout.String(), stderr.String()
			if code != exitError || out != "" || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 3 and one stderr line", code, out, errOut)
			}
			for _, want := range tt.msg {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr %q does not mention %q", errOut, want)
				}
			}
		})
	}
}
