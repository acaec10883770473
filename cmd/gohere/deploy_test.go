package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/app"
	"github.com/gohere/gohere/internal/auth"
)

const (
	testCISecret    = "ci-secret-0123456789"
	testHumanSecret = "human-secret-0123456789"
)

// startServer runs an in-process gohere server on SQLite without Grafana
// and returns its URL; opts may add a metric store.
func startServer(t *testing.T, opts app.Options) string {
	t.Helper()
	tokens, err := auth.Parse("ci:pipeline:" + testCISecret + ",human:alice:" + testHumanSecret)
	if err != nil {
		t.Fatal(err)
	}
	opts.DB, opts.Listen, opts.Tokens = filepath.Join(t.TempDir(), "gohere.db"), "127.0.0.1:0", tokens
	a, err := app.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	})
	return a.URL()
}

// gohereCLI runs one command line and returns its exit code and output.
func gohereCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDeployCommands(t *testing.T) {
	srv := startServer(t, app.Options{})
	conn := []string{"--server", srv, "--token", testCISecret}

	code, out, errOut := gohereCLI(t, append([]string{"deploy", "start", "--service", "checkout", "--env", "prod", "--version", "a1"}, conn...)...)
	if code != 0 {
		t.Fatalf("first start: exit %d, %s", code, errOut)
	}
	first := regexp.MustCompile(`^deploy (\S+): `).FindStringSubmatch(out)
	if first == nil || !strings.Contains(out, "baseline none") {
		t.Fatalf("first start printed %q", out)
	}
	if code, _, errOut := gohereCLI(t, append([]string{"deploy", "finish", first[1], "--status", "succeeded"}, conn...)...); code != 0 {
		t.Fatalf("finish: exit %d, %s", code, errOut)
	}

	code, out, errOut = gohereCLI(t, append([]string{"deploy", "start", "--service", "checkout", "--env", "prod", "--version", "3f2a1c",
		"--commit", "3f2a1c", "--author", "alice", "--merged-by", "bob", "--pr", "https://git.example/pr/7",
		"--change", "3f2a1c:alice:fix tax rounding", "-o", "json"}, conn...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("start -o json: exit %d, stderr %q", code, errOut)
	}
	var d struct {
		ID              string
		BaselineVersion string `json:"baseline_version"`
		GoHereURL       string `json:"go_here_url"`
		ReportURL       string `json:"report_url"`
		Changes         []struct{ Title string }
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&d); err != nil || dec.More() {
		t.Fatalf("-o json printed %q: want one JSON object (%v)", out, err)
	}
	if d.BaselineVersion != "a1" || len(d.Changes) != 1 || d.Changes[0].Title != "fix tax rounding" ||
		!strings.Contains(d.GoHereURL, srv+"/compare?") || d.ReportURL != srv+"/deploys/"+d.ID {
		t.Errorf("started %+v", d)
	}

	code, out, _ = gohereCLI(t, append([]string{"deploy", "start", "--service", "payments", "--env", "prod", "--version", "p1"}, conn...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[1], "GO HERE: http") || !strings.HasPrefix(lines[2], "report:  http") {
		t.Errorf("text output %q: want the deploy line, GO HERE and report", out)
	}

	// Recorded after the fact.
	startedAt := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	code, out, errOut = gohereCLI(t, append([]string{"deploy", "start", "--service", "billing", "--env", "prod", "--version", "b1",
		"--started-at", startedAt.Format(time.RFC3339), "-o", "json"}, conn...)...)
	var past struct {
		StartedAt time.Time `json:"started_at"`
		GoHereURL string    `json:"go_here_url"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &past) != nil || !past.StartedAt.Equal(startedAt) ||
		!strings.Contains(past.GoHereURL, fmt.Sprintf("start=%d", startedAt.UnixMilli())) {
		t.Errorf("start --started-at %s: exit %d, stderr %q, printed %s; want that start and a link marking it", startedAt.Format(time.RFC3339), code, errOut, out)
	}

	code, out, _ = gohereCLI(t, append([]string{"deploy", "list", "--service", "checkout"}, conn...)...)
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "3f2a1c") || strings.Contains(out, "payments") {
		t.Errorf("list --service checkout: exit %d\n%s", code, out)
	}

	for _, tt := range []struct {
		name string
		args []string
		msg  string
	}{
		{"missing version", append([]string{"deploy", "start", "--service", "checkout", "--env", "prod"}, conn...), "version"},
		{"comma in a name", append([]string{"deploy", "start", "--service", "check,out", "--env", "prod", "--version", "v"}, conn...), "service"},
		{"bad change", append([]string{"deploy", "start", "--service", "s", "--env", "prod", "--version", "v", "--change", "nope"}, conn...), "SHA:AUTHOR:TITLE"},
		{"started-at not a time", append([]string{"deploy", "start", "--service", "s", "--env", "prod", "--version", "v", "--started-at", "yesterday"}, conn...), "--started-at"},
		{"started-at in the future", append([]string{"deploy", "start", "--service", "s", "--env", "prod", "--version", "v",
			"--started-at", time.Now().Add(time.Hour).Format(time.RFC3339)}, conn...), "in the future"},
		{"finished twice", append([]string{"deploy", "finish", first[1], "--status", "failed"}, conn...), "finished"},
		{"unknown deploy", append([]string{"deploy", "finish", "nope", "--status", "failed"}, conn...), "nope"},
		{"bad status", append([]string{"deploy", "finish", d.ID, "--status", "great"}, conn...), "great"},
		{"human token writes", []string{"deploy", "start", "--service", "s", "--env", "e", "--version", "v", "--server", srv, "--token", testHumanSecret}, "may not write"},
		{"wrong token", []string{"deploy", "list", "--server", srv, "--token", "wrong-token-0123456789"}, "invalid token"},
		{"server down", []string{"deploy", "list", "--server", "http://127.0.0.1:1", "--token", testCISecret}, "unreachable"},
		{"no server", []string{"deploy", "list", "--server", "", "--token", testCISecret}, "server"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := gohereCLI(t, tt.args...)
			if code != exitError || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 3 and one stderr line mentioning %q", code, out, errOut, tt.msg)
			}
		})
	}
}
