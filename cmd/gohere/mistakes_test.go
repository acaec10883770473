package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/replay"
)

// The CLI mistakes of issue 12: each was seen getting a confusing answer.

// TestUnknownSubcommands: a mistyped subcommand, or a group command alone,
// is an error (exit 3) instead of the help and exit 0 a CI script would
// take for success; the help goes to stderr.
func TestUnknownSubcommands(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		last string // the start of the last stderr line
		help bool   // the group's help comes first on stderr
	}{
		{"typo of a deploy subcommand", []string{"deploy", "lst"}, `gohere: unknown command "lst" for "gohere deploy"; did you mean list?`, false},
		{"typo followed by its flags", []string{"deploy", "lst", "--service", "checkout"}, `gohere: unknown command "lst" for "gohere deploy"; did you mean list?`, false},
		{"no suggestion", []string{"deploy", "xyzzy"}, `gohere: unknown command "xyzzy" for "gohere deploy"; want one of finish, list, start`, false},
		{"typo of a top-level command", []string{"dashbords"}, `gohere: unknown command "dashbords" for "gohere"; did you mean dashboards?`, false},
		{"dashboards alone", []string{"dashboards"}, `gohere: gohere dashboards needs a subcommand: export, install`, true},
		{"deploy alone", []string{"deploy"}, `gohere: gohere deploy needs a subcommand: finish, list, start`, true},
		{"stats alone", []string{"stats"}, `gohere: gohere stats needs a subcommand: mannwhitney, `, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gohereCLI(t, tt.args...)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if code != exitError || out != "" || !strings.HasPrefix(lines[len(lines)-1], tt.last) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 3, nothing on stdout and the last stderr line starting %q", code, out, errOut, tt.last)
			}
			if hasHelp := strings.Contains(errOut, "Available Commands:"); hasHelp != tt.help || !tt.help && len(lines) != 1 {
				t.Errorf("stderr %q: help %t, want %t (and otherwise one line)", errOut, hasHelp, tt.help)
			}
		})
	}
	// Asked for, help is no mistake.
	for _, args := range [][]string{{"deploy", "--help"}, {"deploy", "help"}, {"help", "deploy"}} {
		if code, out, errOut := gohereCLI(t, args...); code != exitOK || !strings.Contains(out, "Available Commands:") || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0 and the help on stdout", strings.Join(args, " "), code, out, errOut)
		}
	}
	// The exit code a shell sees, from the real process.
	cmd := exec.Command(os.Args[0], "deploy", "lst")
	cmd.Env = append(os.Environ(), "GOHERE_TEST_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitError || !strings.Contains(string(out), "did you mean list?") {
		t.Errorf("gohere deploy lst as a process: %v, output %q; want exit 3 and the suggestion", err, out)
	}
}

// TestMissingToken names the environment variable and the flag, not the
// HTTP header the server would have asked for.
func TestMissingToken(t *testing.T) {
	srv := startServer(t, app.Options{})
	t.Setenv("GOHERE_TOKEN", "")
	for _, args := range [][]string{
		{"deploy", "list"},
		{"deploy", "start", "--service", "checkout", "--env", "prod", "--version", "v1"},
		{"deploy", "finish", "d1", "--status", "succeeded"},
		{"analyze", "d1", "--config", "../../fixtures/scenarios/healthy.yaml"},
		{"gate", "d1", "--timeout", "1s"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			code, out, errOut := gohereCLI(t, append(args, "--server", srv)...)
			if code != exitError || out != "" || errOut != "gohere: no API token: set GOHERE_TOKEN or --token\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 3 and the one line naming GOHERE_TOKEN and --token", code, out, errOut)
			}
		})
	}
}

// TestDeployListLimit: a limit below 1 is refused, not silently replaced
// by the server's default.
func TestDeployListLimit(t *testing.T) {
	srv := startServer(t, app.Options{})
	for _, limit := range []string{"-1", "0"} {
		code, out, errOut := gohereCLI(t, "deploy", "list", "--limit", limit, "--server", srv, "--token", testCISecret)
		if code != exitError || out != "" || errOut != "gohere: --limit "+limit+": want a positive number\n" {
			t.Errorf("--limit %s: exit %d, stdout %q, stderr %q; want 3 and the limit refused", limit, code, out, errOut)
		}
	}
	if code, _, errOut := gohereCLI(t, "deploy", "list", "--limit", "1", "--server", srv, "--token", testCISecret); code != exitOK {
		t.Errorf("--limit 1: exit %d, %s", code, errOut)
	}
}

// TestBackfill records history after the fact: a deploy started and
// finished a day ago (--started-at, --finished-at) is the baseline of one
// recorded as started two hours ago.
func TestBackfill(t *testing.T) {
	srv := startServer(t, app.Options{})
	conn := []string{"--server", srv, "--token", testCISecret, "-o", "json"}
	now := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	start := func(version string, startedAt time.Duration) (id, baseline string) {
		t.Helper()
		code, out, errOut := gohereCLI(t, append([]string{"deploy", "start", "--service", "billing", "--env", "prod", "--version", version,
			"--stage", "full", "--started-at", at(startedAt)}, conn...)...)
		var d struct {
			ID       string `json:"id"`
			Baseline string `json:"baseline_version"`
		}
		if code != exitOK || json.Unmarshal([]byte(out), &d) != nil {
			t.Fatalf("start %s: exit %d, stderr %q, printed %s", version, code, errOut, out)
		}
		return d.ID, d.Baseline
	}

	yesterday, _ := start("b1", -26*time.Hour)
	code, out, errOut := gohereCLI(t, append([]string{"deploy", "finish", yesterday, "--status", "succeeded", "--finished-at", at(-25 * time.Hour)}, conn...)...)
	var finished struct {
		Status     string    `json:"status"`
		FinishedAt time.Time `json:"finished_at"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &finished) != nil || finished.Status != "succeeded" || !finished.FinishedAt.Equal(now.Add(-25*time.Hour)) {
		t.Fatalf("finish --finished-at: exit %d, stderr %q, printed %s; want it succeeded at %s", code, errOut, out, at(-25*time.Hour))
	}
	if _, baseline := start("b2", -2*time.Hour); baseline != "b1" {
		t.Errorf("a deploy started 2 h ago got baseline %q, want b1, which succeeded the day before", baseline)
	}

	// Finished now, the day-old deploy was still rolling out two hours ago:
	// no baseline then, and the text says why rather than "first deploy".
	late, _ := start("c1", -26*time.Hour)
	if code, _, errOut := gohereCLI(t, "deploy", "finish", late, "--status", "succeeded", "--server", srv, "--token", testCISecret); code != exitOK {
		t.Fatalf("finish: exit %d, %s", code, errOut)
	}
	code, out, _ = gohereCLI(t, "deploy", "start", "--service", "billing", "--env", "prod", "--version", "c2", "--stage", "full",
		"--started-at", at(-2*time.Hour), "--server", srv, "--token", testCISecret)
	if code != exitOK || !strings.Contains(out, "baseline b1") {
		t.Errorf("start after a late finish printed %q; want baseline b1 (c1 succeeded only now)", out)
	}

	for _, tt := range []struct {
		name, finishedAt, msg string
	}{
		{"not a time", "yesterday", `--finished-at "yesterday": want an RFC3339 time`},
		{"before the start", at(-27 * time.Hour), "is before its start"},
		{"in the future", at(time.Hour), "in the future"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, _ := start("x-"+strings.ReplaceAll(tt.name, " ", "-"), -3*time.Hour)
			code, out, errOut := gohereCLI(t, "deploy", "finish", id, "--status", "succeeded", "--finished-at", tt.finishedAt, "--server", srv, "--token", testCISecret)
			if code != exitError || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 3 and one line mentioning %q", code, out, errOut, tt.msg)
			}
		})
	}
}

// TestSecondRunningCanaryWarns: two running canaries of one service and env
// are allowed, but the second start says so on stderr (stdout may be JSON
// a script reads).
func TestSecondRunningCanaryWarns(t *testing.T) {
	srv := startServer(t, app.Options{})
	conn := []string{"--server", srv, "--token", testCISecret}
	start := func(env, version string, extra ...string) (id, stdout, stderr string) {
		t.Helper()
		code, out, errOut := gohereCLI(t, append(append([]string{"deploy", "start", "--service", "checkout", "--env", env, "--version", version}, extra...), conn...)...)
		m := regexp.MustCompile(`^deploy (\S+): `).FindStringSubmatch(out)
		if code != exitOK || m == nil {
			t.Fatalf("start %s %s: exit %d, stdout %q, stderr %q", env, version, code, out, errOut)
		}
		return m[1], out, errOut
	}
	first, _, errOut := start("prod", "v1")
	if errOut != "" {
		t.Errorf("first canary: stderr %q, want nothing", errOut)
	}
	if _, _, errOut := start("staging", "v1"); errOut != "" {
		t.Errorf("a canary in another env: stderr %q, want nothing", errOut)
	}
	if _, _, errOut := start("prod", "v0", "--stage", "full"); errOut != "" {
		t.Errorf("a full deploy: stderr %q, want nothing", errOut)
	}
	second, out, errOut := start("prod", "v2")
	want := "gohere: warning: another canary of checkout in prod is running: deploy " + first + " (v1, started "
	if !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 || strings.Count(out, "\n") != 3 {
		t.Errorf("second canary: stdout %q, stderr %q; want the deploy on stdout and one warning starting %q", out, errOut, want)
	}
	code, out, errOut := gohereCLI(t, append([]string{"deploy", "finish", first, "--status", "rolled_back"}, conn...)...)
	if code != exitOK {
		t.Fatalf("finish: exit %d, %s %s", code, out, errOut)
	}
	code, out, errOut = gohereCLI(t, append([]string{"deploy", "start", "--service", "checkout", "--env", "prod", "--version", "v3", "-o", "json"}, conn...)...)
	var d struct{ ID string }
	if code != exitOK || json.Unmarshal([]byte(out), &d) != nil || !strings.Contains(errOut, "deploy "+second+" (v2,") || strings.Contains(errOut, first) {
		t.Errorf("third canary -o json: exit %d, stdout %q, stderr %q; want one JSON object and a warning about %s only", code, out, errOut, second)
	}
}

// TestConfigMistakes: canary config problems are each on a line of their
// own with their YAML path and line, in YAML terms, from `gohere judge`
// (file mode too: a template typo no longer passes unnoticed) and from the
// server through `gohere analyze`.
func TestConfigMistakes(t *testing.T) {
	healthy, err := os.ReadFile("../../fixtures/scenarios/healthy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(name, old, new string) string {
		t.Helper()
		if !strings.Contains(string(healthy), old) {
			t.Fatalf("healthy.yaml lacks %q", old)
		}
		return writeTemp(t, name, strings.Replace(string(healthy), old, new, 1))
	}
	typoGroup := edit("group.yaml", "groups: [latency]", "groups: [latncy]")
	typoVar := edit("template.yaml", `service="{{.Service}}"`, `service="{{.Servcie}}"`)
	notBool := edit("bool.yaml", "  - name: cpu\n", "  - name: cpu\n    critical: ture\n")
	both := writeTemp(t, "both.yaml", strings.Replace(strings.Replace(string(healthy), "groups: [latency]", "groups: [latncy]", 1),
		"{pass: 95, marginal: 75}", "{pass: 50, marginal: 75}", 1))
	data := "../../fixtures/judge/healthy/"
	for _, tt := range []struct {
		name   string
		config string
		lines  []string // stderr, each a substring of its line
	}{
		{"typo of a group", typoGroup, []string{
			`gohere: canary config ` + typoGroup + `: 2 problems:`,
			`  config: metrics[0].groups[0] (line 16): unknown group "latncy"`,
			`  config: groups.latency (line 4): unknown group "latency": no metric belongs to it`}},
		{"typo of a template variable", typoVar, []string{
			`gohere: canary config ` + typoVar + `: config: metrics[0].query (line 15): unknown variable .Servcie; known: .Service, .Env, .Version, .Role, .Baseline, .Canary, .Vars`}},
		{"not true or false", notBool, []string{
			`gohere: canary config ` + notBool + `: config: line 30, column 15: metrics[2].critical: want true or false, got "ture"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gohereCLI(t, "judge", "--config", tt.config, "--baseline", data+"baseline.json", "--canary", data+"canary.json")
			checkLines(t, code, out, errOut, tt.lines)
		})
	}

	srv := startServer(t, app.Options{Source: replay.New()})
	conn := []string{"--server", srv, "--token", testCISecret}
	code, out, errOut := gohereCLI(t, append([]string{"deploy", "start", "--service", "checkout", "--env", "prod", "--version", "v1.5.0", "--baseline", "v1.4.2"}, conn...)...)
	m := regexp.MustCompile(`^deploy (\S+): `).FindStringSubmatch(out)
	if code != exitOK || m == nil {
		t.Fatalf("deploy start: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = gohereCLI(t, append([]string{"analyze", m[1], "--config", both}, conn...)...)
	checkLines(t, code, out, errOut, []string{
		`: 3 problems:`,
		`  config: thresholds (line 3): pass 50 is below marginal 75`,
		`  config: metrics[0].groups[0] (line 16): unknown group "latncy"`,
		`  config: groups.latency (line 4): unknown group "latency": no metric belongs to it`})
	if !strings.HasPrefix(errOut, "gohere: POST /api/v1/deploys/"+m[1]+"/analyses: 400 Bad Request") {
		t.Errorf("analyze: stderr %q, want the server's answer", errOut)
	}
}

// checkLines wants exit 3, nothing on stdout and stderr of exactly the
// lines given, each containing its want.
func checkLines(t *testing.T, code int, stdout, stderr string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	ok := code == exitError && stdout == "" && len(lines) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(lines[i], want[i])
	}
	if !ok {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant 3 and the lines\n%s", code, stdout, stderr, strings.Join(want, "\n"))
	}
}

// TestJudgeNoMetricInData: data of which no series is named like a metric
// of the config is an error naming both, not a NoData verdict.
func TestJudgeNoMetricInData(t *testing.T) {
	other := writeTemp(t, "other.json", `{"latency_p99": [0.2, 0.3], "http_errors": {"numerator": 1, "denominator": 100}}`)
	empty := writeTemp(t, "empty.json", `{}`)
	config := "../../fixtures/scenarios/healthy.yaml"
	code, out, errOut := gohereCLI(t, "judge", "--config", config, "--baseline", other, "--canary", empty)
	want := "gohere: no metric of the config (p99_latency, error_rate, cpu) is in the data: " +
		other + " has http_errors, latency_p99; " + empty + " has no series\n"
	if code != exitError || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 3 and %q", code, out, errOut, want)
	}
	// One side with data is a canary without data: NoData, exit 2.
	if code, out, errOut := gohereCLI(t, "judge", "--config", config, "--baseline", "../../fixtures/judge/healthy/baseline.json", "--canary", empty); code != exitUndecided || !strings.Contains(out, "Verdict: NoData") {
		t.Errorf("baseline only: exit %d, stderr %q\n%s\nwant 2 and NoData", code, errOut, out)
	}
}
