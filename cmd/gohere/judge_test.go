package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// judgeTestdata is the judge package's example config and data.
const judgeTestdata = "../../judge/testdata/"

func TestJudgeCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The example config with a pass threshold the failing canary's score
	// of 30 cannot reach but a marginal one it can.
	example, err := os.ReadFile(judgeTestdata + "canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	marginal := write("marginal.yaml", strings.Replace(string(example),
		"thresholds: {pass: 95, marginal: 75}", "thresholds: {pass: 95, marginal: 25}", 1))
	badConfig := write("bad.yaml", "metrics:\n  - name: a\n    qurey: x\n")
	badData := write("bad.json", `{"p99_latency": [1, "fast"]}`)
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
