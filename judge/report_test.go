package judge

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func readDataFile(t *testing.T, path string) Data {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ReadData(f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestExampleReports judges the example config on the example data and
// compares the text report with its golden file; the JSON form must encode.
func TestJudgeExampleReports(t *testing.T) {
	cfg, err := LoadConfigFile("testdata/canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	baseline := readDataFile(t, "testdata/data/baseline.json")
	for _, c := range []struct {
		canary  string
		verdict gohere.Verdict
	}{
		{"canary-pass.json", gohere.VerdictPass},
		{"canary-fail.json", gohere.VerdictFail},
		{"empty.json", gohere.VerdictNoData},
	} {
		t.Run(c.canary, func(t *testing.T) {
			r := Judge(cfg, baseline, readDataFile(t, filepath.Join("testdata/data", c.canary)))
			if r.Verdict != c.verdict {
				t.Errorf("verdict = %s, want %s (reasons %q)", r.Verdict, c.verdict, r.Reasons)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("report does not encode as JSON: %v", err)
			}
			var buf bytes.Buffer
			if err := r.WriteText(&buf); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata/golden", c.canary+".txt")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("text report (-golden +got):\n%s", diff)
			}
		})
	}
}
