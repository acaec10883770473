package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/fixtures"
	"github.com/gohere/gohere/internal/tsdbtest"
)

// TestJudgeLiveWindow judges every recorded fixture scenario with
// `gohere judge --source` against a real VictoriaMetrics holding its series:
// each exits with the code of the verdict the scenario expects.
func TestJudgeLiveWindow(t *testing.T) {
	type placed struct {
		fixtures.Scenario
		start  time.Time
		config string
	}
	hour := time.Now().Truncate(time.Hour)
	var scenarios []placed
	var all []tsdbtest.Sample
	for i, name := range fixtures.Names() {
		sc, err := fixtures.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		start := hour.Add(-time.Duration(i+2) * time.Hour)
		config := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(config, sc.Config, 0o644); err != nil {
			t.Fatal(err)
		}
		scenarios = append(scenarios, placed{sc, start, config})
		all = append(all, tsdbtest.Scenario(sc, start)...)
	}
	vm := tsdbtest.StartVictoriaMetrics(t)
	vm.Import(t, all)

	wantCode := map[gohere.Verdict]int{gohere.VerdictPass: exitOK, gohere.VerdictFail: exitFail, gohere.VerdictNoData: exitUndecided}
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"judge", "--config", sc.config, "--source", vm.URL(),
				"--service", sc.Service, "--env", sc.Env, "--baseline", sc.Baseline, "--canary", sc.Canary,
				"--from", sc.start.Format(time.RFC3339), "--to", sc.start.Add(sc.Duration).Format(time.RFC3339)}
			code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
			want, ok := wantCode[sc.Expected]
			if !ok {
				t.Fatalf("scenario expects %s: no exit code for it", sc.Expected)
			}
			if code != want || !strings.Contains(stdout.String(), "Verdict: "+string(sc.Expected)) {
				t.Fatalf("exit %d, want %d (%s)\nstdout:\n%s\nstderr: %s", code, want, sc.Expected, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "queries:") || !strings.Contains(stdout.String(), sc.Canary) {
				t.Errorf("the report does not list the resolved queries:\n%s", stdout.String())
			}
		})
	}

	t.Run("store down is never a pass", func(t *testing.T) {
		sc := scenarios[0]
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"judge", "--config", sc.config, "--source", "http://127.0.0.1:1",
			"--service", sc.Service, "--env", sc.Env, "--baseline", sc.Baseline, "--canary", sc.Canary,
			"--from", sc.start.Format(time.RFC3339), "--to", sc.start.Add(sc.Duration).Format(time.RFC3339)}, strings.NewReader(""), &stdout, &stderr)
		if code == exitOK || code == exitFail {
			t.Fatalf("exit %d with the store down; want 2 (no data) or 3 (error)\n%s%s", code, stdout.String(), stderr.String())
		}
	})
	t.Run("bad window", func(t *testing.T) {
		sc := scenarios[0]
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"judge", "--config", sc.config, "--source", vm.URL(),
			"--service", sc.Service, "--baseline", sc.Baseline, "--canary", sc.Canary, "--from", "yesterday"}, strings.NewReader(""), &stdout, &stderr)
		if code != exitError || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), "--env, --to are required") {
			t.Fatalf("exit %d, stderr %q; want 3 and one line naming --env and --to", code, stderr.String())
		}
	})
}
