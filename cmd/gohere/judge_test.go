package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/analysis"
	"github.com/gohere/gohere/internal/replay"
	"github.com/gohere/gohere/judge"
)

var updateJudgeFixtures = flag.Bool("update", false, "rewrite fixtures/judge/ from the replayed scenarios")

// judgeFixtures are the scenarios whose first analysis interval is shipped
// in fixtures/judge/ as `gohere judge` data files, with the verdict the
// runner reached on the same samples.
var judgeFixtures = map[string]gohere.Verdict{"healthy": gohere.VerdictPass, "latency-regression": gohere.VerdictFail}

// TestJudgeFixtures: fixtures/judge/<scenario>/{baseline,canary}.json are
// exactly the samples the analysis runner judged in the scenario's first
// interval (replayed from its recording), and `gohere judge` on them
// reaches the runner's verdict and score. -update rewrites them.
func TestJudgeFixtures(t *testing.T) {
	for name, want := range judgeFixtures {
		t.Run(name, func(t *testing.T) {
			sc, err := fixtures.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := replay.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := judge.LoadConfig(bytes.NewReader(sc.Config))
			if err != nil {
				t.Fatal(err)
			}
			// The first interval: after the warm-up, one interval long.
			at := time.Now().Truncate(time.Hour).Add(-time.Hour)
			from := at.Add(time.Duration(cfg.Analysis.Warmup))
			var sides [2]judge.Data
			res, err := analysis.JudgeWindow(t.Context(), replay.New(replay.Placement{Recording: rec, Start: at}),
				func(cfg judge.Config, baseline, canary judge.Data) judge.Report {
					sides = [2]judge.Data{baseline, canary}
					return judge.Judge(cfg, baseline, canary)
				}, cfg, analysis.Target{Service: sc.Service, Env: sc.Env, Baseline: sc.Baseline, Canary: sc.Canary},
				from, from.Add(time.Duration(cfg.Analysis.Interval)))
			if err != nil {
				t.Fatal(err)
			}
			if res.Report.Verdict != want {
				t.Fatalf("the runner judged %s %s, want %s", name, res.Report.Verdict, want)
			}
			dir := filepath.Join("..", "..", "fixtures", "judge", name)
			paths := [2]string{filepath.Join(dir, "baseline.json"), filepath.Join(dir, "canary.json")}
			for i, d := range sides {
				b := dataFile(t, d)
				if *updateJudgeFixtures {
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(paths[i], b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if got, err := os.ReadFile(paths[i]); err != nil || !bytes.Equal(got, b) {
					t.Errorf("%s is not what the runner judged (%v); run go test ./cmd/gohere -run TestJudgeFixtures -update", paths[i], err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{"judge", "--config", filepath.Join("..", "..", "fixtures", "scenarios", name+".yaml"),
				"--baseline", paths[0], "--canary", paths[1], "-o", "json"}, strings.NewReader(""), &stdout, &stderr)
			var got judge.Report
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got.Verdict != want || got.Score != res.Report.Score {
				t.Errorf("gohere judge on the files: exit %d, verdict %s, score %v (%v, stderr %q); want %s at %v like the runner",
					code, got.Verdict, got.Score, err, stderr.String(), want, res.Report.Score)
			}
		})
	}
}

// dataFile writes samples in the format `gohere judge` reads: metric name
// to numbers, or to the numerator and denominator totals of a rate metric.
func dataFile(t *testing.T, d judge.Data) []byte {
	t.Helper()
	out := map[string]any{}
	for name, s := range d {
		if s.Counts != nil {
			out[name] = s.Counts
		} else {
			out[name] = s.Values
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestREADMEJudgeExample runs the README's first `gohere judge` example as
// written, from the repository's root: it must work on the files shipped
// in fixtures/ and end as the README says (Fail, exit 1).
func TestREADMEJudgeExample(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var example string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line, _, _ := strings.Cut(sc.Text(), " #") // a shell comment
		line = strings.TrimSpace(line)
		if example != "" || strings.HasPrefix(line, "gohere judge ") {
			example += strings.TrimSuffix(line, "\\") + " "
			if !strings.HasSuffix(line, "\\") {
				break
			}
		}
	}
	args := strings.Fields(example)
	if len(args) < 2 {
		t.Fatal("README.md has no gohere judge example")
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args[1:], strings.NewReader(""), &stdout, &stderr)
	if code != exitFail || !strings.Contains(stdout.String(), "Verdict: Fail") {
		t.Errorf("%s: exit %d, stderr %q\n%s\nwant exit 1 and Verdict: Fail, as the README says", example, code, stderr.String(), stdout.String())
	}
}

// judgeTestdata is the judge package's example config and data.
const judgeTestdata = "../../judge/testdata/"

// writeTemp writes content to a file called name in a new temp dir of t
// and returns its path.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJudgeCommand(t *testing.T) {
	dir := t.TempDir()
	// The example config with a pass threshold the failing canary's score
	// of 30 cannot reach but a marginal one it can.
	example, err := os.ReadFile(judgeTestdata + "canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	marginal := writeTemp(t, "marginal.yaml", strings.Replace(string(example),
		"thresholds: {pass: 95, marginal: 75}", "thresholds: {pass: 95, marginal: 25}", 1))
	badConfig := writeTemp(t, "bad.yaml", "metrics:\n  - name: a\n    qurey: x\n")
	badData := writeTemp(t, "bad.json", `{"p99_latency": [1, "fast"]}`)
	config := judgeTestdata + "canary.yaml"
	base := judgeTestdata + "data/baseline.json"
	data := func(name string) string { return judgeTestdata + "data/" + name }

	for _, tt := range []struct {
		name    string
		args    []string
		code    int
		stdout  string // substring
		errLine string // substring of the single stderr line
	}{
		{"pass", []string{"--config", config, "--baseline", base, "--canary", data("canary-pass.json")}, 0, "Verdict: Pass", ""},
		{"pass from a VictoriaMetrics export", []string{"--config", config, "--baseline", base, "--canary", data("canary-pass.vm.jsonl")}, 0, "Verdict: Pass", ""},
		{"fail", []string{"--config", config, "--baseline", base, "--canary", data("canary-fail.json")}, 1, "Verdict: Fail", ""},
		{"marginal", []string{"--config", marginal, "--baseline", base, "--canary", data("canary-fail.json")}, 2, "Verdict: Marginal", ""},
		{"no data", []string{"--config", config, "--baseline", base, "--canary", data("empty.json")}, 2, "Verdict: NoData", ""},
		{"json", []string{"--config", config, "--baseline", base, "--canary", data("canary-fail.json"), "-o", "json"}, 1, `"verdict": "Fail"`, ""},
		{"bad config", []string{"--config", badConfig, "--baseline", base, "--canary", base}, 3, "", `line 3, column 5: unknown field "qurey"`},
		{"missing config", []string{"--config", filepath.Join(dir, "nope.yaml"), "--baseline", base, "--canary", base}, 3, "", "no such file"},
		{"bad data", []string{"--config", config, "--baseline", base, "--canary", badData}, 3, "", `metric "p99_latency": want an array of numbers`},
		{"missing flag", []string{"--config", config, "--baseline", base}, 3, "", "--canary is required"},
		{"bad output", []string{"--config", config, "--baseline", base, "--canary", base, "-o", "yaml"}, 3, "", `-o "yaml": want text or json`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"judge"}, tt.args...), strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit code = %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, stdout.String())
			}
			if tt.errLine == "" {
				if stderr.Len() != 0 {
					t.Errorf("stderr = %q, want nothing", stderr.String())
				}
				return
			}
			if lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tt.errLine) {
				t.Errorf("stderr = %q, want one line containing %q", stderr.String(), tt.errLine)
			}
		})
	}
}

// TestJudgeCommandJSON: -o json writes the whole report as one JSON value.
func TestJudgeCommandJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"judge", "--config", judgeTestdata + "canary.yaml",
		"--baseline", judgeTestdata + "data/baseline.json", "--canary", judgeTestdata + "data/canary-fail.json", "-o", "json"},
		strings.NewReader(""), &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code = %d, want 1; stderr %q", code, stderr.String())
	}
	var r struct {
		Verdict string  `json:"verdict"`
		Score   float64 `json:"score"`
		Metrics []struct {
			Name  string `json:"name"`
			Label string `json:"label"`
			Test  *struct {
				PValue float64 `json:"p_value"`
			} `json:"test"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("decode: %v\n%s", err, stdout.String())
	}
	if r.Verdict != "Fail" || r.Score != 30 || len(r.Metrics) != 3 || r.Metrics[0].Label != "High" || r.Metrics[0].Test == nil {
		t.Errorf("report = %+v, want Fail at 30 with p99_latency High and its test", r)
	}
}
