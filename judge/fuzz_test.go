package judge

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
)

func addFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files for %s: %v", pattern, err)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzLoadConfig: the loader never panics; a rejection is an Invalid
// error; an accepted config validates, survives a JSON round trip, and
// judged on no data is NoData, never a pass.
func FuzzLoadConfig(f *testing.F) {
	addFiles(f, "testdata/config/*/*")
	f.Add([]byte("metrics: [{name: a, query: q, max: .nan}]"))
	// Alias-heavy: a billion-laughs bomb (refused at the alias cap, fast)
	// and a legitimate merge key.
	f.Add([]byte("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nmetrics: *f\n"))
	f.Add([]byte("base: &m {name: a, query: q}\nmetrics: [{<<: *m}, {<<: *m, name: b}]\n"))
	f.Add([]byte(`{"metrics": [{"name": "a", "numerator": "n", "denominator": "d"}], "analysis": {"lifetime": 0}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := LoadConfig(bytes.NewReader(data))
		if err != nil {
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("loaded config does not validate: %v", err)
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := LoadConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("reload of %s: %v", b, err)
		}
		if diff := cmp.Diff(cfg, again); diff != "" {
			t.Fatalf("round trip (-loaded +reloaded):\n%s", diff)
		}
		if r := Judge(cfg, nil, nil); r.Verdict != gohere.VerdictNoData {
			t.Fatalf("verdict without data = %s, want NoData", r.Verdict)
		}
	})
}

// FuzzReadData: the data reader never panics, rejects with Invalid errors,
// and whatever it accepts judges to a report that encodes as JSON and is
// never a pass when the canary has nothing.
func FuzzReadData(f *testing.F) {
	addFiles(f, "testdata/data/*")
	f.Add([]byte(`{"p99_latency": [1e308, 1e308, -1e308], "error_rate": {"numerator": 5, "denominator": 2}}`))
	cfg, err := LoadConfigFile("testdata/canary.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadData(bytes.NewReader(data))
		if err != nil {
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		r := Judge(cfg, d, d)
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("report does not encode: %v", err)
		}
		if r := Judge(cfg, d, nil); r.Verdict == gohere.VerdictPass {
			t.Fatalf("pass without canary data: %q", r.Reasons)
		}
	})
}
