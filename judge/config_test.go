package judge

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gohere/gohere"
)

// problemRE matches the start of one validation problem.
var problemRE = regexp.MustCompile(`config: (judge|thresholds|confidence|tolerance|alpha|adjust|min_shift|groups|metrics|analysis)\b`)

// wants reads the "# want: ..." lines heading a test config.
func wants(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
			out = append(out, w)
		}
	}
	return out
}

// TestLoadInvalid: every problem of a file is reported at once, with its
// line, as an Invalid error.
func TestJudgeLoadInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/config/invalid/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test configs: %v", err)
	}
	jsonWants := map[string][]string{
		"kayenta-bad.json": {`config: metrics[0].direction: "sideways": want one of increase, decrease, either`},
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want := wants(t, path)
			if w, ok := jsonWants[name]; ok {
				want = w
			}
			if len(want) == 0 {
				t.Fatal("test config states no # want: lines")
			}
			_, err := LoadConfigFile(path)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			if k := gohere.KindOf(err); k != gohere.Invalid {
				t.Errorf("kind = %v, want invalid", k)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%v", w, err)
				}
			}
			if strings.HasPrefix(want[0], "config: ") {
				if got := len(problemRE.FindAllString(err.Error(), -1)); got != len(want) {
					t.Errorf("%d problems reported, want %d:\n%v", got, len(want), err)
				}
			}
		})
	}
}

// TestLoadValid: valid files load, and a loaded config survives a JSON
// round trip unchanged (every default explicit).
func TestJudgeLoadValid(t *testing.T) {
	files, err := filepath.Glob("testdata/config/valid/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test configs: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg, err := LoadConfigFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			again, err := LoadConfig(strings.NewReader(string(b)))
			if err != nil {
				t.Fatalf("reload of %s: %v", b, err)
			}
			if diff := cmp.Diff(cfg, again); diff != "" {
				t.Errorf("round trip (-loaded +reloaded):\n%s", diff)
			}
			if diff := cmp.Diff(cfg, cfg.WithDefaults()); diff != "" {
				t.Errorf("defaults are not idempotent (-once +twice):\n%s", diff)
			}
		})
	}
}

// TestDefaults pins the defaults of a minimal config.
func TestJudgeDefaults(t *testing.T) {
	for _, c := range []struct {
		mode       Mode
		minSamples int
	}{{ModeGohere, 10}, {ModeKayenta, 1}} {
		t.Run(string(c.mode), func(t *testing.T) {
			cfg := Config{Judge: c.mode, Metrics: []Metric{{Name: "a", Query: "q"}}}.WithDefaults()
			want := Config{
				Judge: c.mode, Thresholds: Thresholds{Pass: 95, Marginal: ptr(75.0)},
				Confidence: 0.98, Tolerance: ptr(0.25), Alpha: 0.05, Adjust: AdjustHolm, MinShift: ptr(0.02),
				Metrics: []Metric{{
					Name: "a", Query: "q", Groups: []string{"default"}, Direction: Either,
					NaNStrategy: NaNRemove, Outliers: OutliersKeep, OutlierFactor: 3,
					EffectSize: EffectSize{Measure: MeanRatio, AllowedIncrease: 1, AllowedDecrease: 1, CriticalIncrease: 1, CriticalDecrease: 1},
					MinSamples: c.minSamples,
				}},
			}
			if diff := cmp.Diff(want, cfg); diff != "" {
				t.Errorf("defaults (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImportKayenta maps a Kayenta canary config onto ours.
func TestJudgeImportKayenta(t *testing.T) {
	cfg, err := LoadConfigFile("testdata/config/valid/kayenta.json")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Judge != ModeKayenta || cfg.Groups["latency"] != 60 || cfg.Groups["errors"] != 40 {
		t.Errorf("judge %s groups %v, want kayenta with latency 60 and errors 40", cfg.Judge, cfg.Groups)
	}
	p99, errs := cfg.Metrics[0], cfg.Metrics[1]
	want := Metric{
		Name: "p99 latency", Query: `histogram_quantile(0.99, rate(http_bucket{version="{{.Version}}"}[1m]))`,
		Groups: []string{"latency"}, Direction: Increase, NaNStrategy: NaNRemove, Outliers: OutliersRemove,
		OutlierFactor: 3, Critical: true, MinSamples: 1,
		EffectSize: EffectSize{Measure: MeanRatio, AllowedIncrease: 1.1, AllowedDecrease: 1, CriticalIncrease: 1.5, CriticalDecrease: 1},
	}
	if diff := cmp.Diff(want, p99); diff != "" {
		t.Errorf("p99 (-want +got):\n%s", diff)
	}
	if errs.Query != `avg(http_errors_total{service="{{.Service}}",env="{{.Env}}",version="{{.Version}}"})` || errs.EffectSize.Measure != CLES || errs.EffectSize.AllowedDecrease != 0.5 ||
		!errs.MustHaveData || errs.NaNStrategy != NaNReplace {
		t.Errorf("errors metric = %+v", errs)
	}
}

// TestLoadEmpty: an empty config is an error, not an empty judgement.
func TestJudgeLoadEmpty(t *testing.T) {
	for _, in := range []string{"", "  \n\t", "# only a comment\n"} {
		if _, err := LoadConfig(strings.NewReader(in)); gohere.KindOf(err) != gohere.Invalid {
			t.Errorf("LoadConfig(%q) = %v, want an Invalid error", in, err)
		}
	}
}
