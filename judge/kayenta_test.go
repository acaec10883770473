package judge

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// kayentaVectors is testdata/kayenta_judge.json: what Kayenta's own judge
// tests assert (Apache-2.0; the file states its source).
type kayentaVectors struct {
	Classifier []struct {
		ID         string   `json:"id"`
		Test       string   `json:"kayentaTest"`
		Experiment []number `json:"experiment"`
		Control    []number `json:"control"`
		Params     struct {
			Tolerance   float64    `json:"tolerance"`
			ConfLevel   float64    `json:"confLevel"`
			Direction   string     `json:"direction"`
			NaNStrategy string     `json:"nanStrategy"`
			IsCritical  bool       `json:"isCritical"`
			EffectSize  [2]float64 `json:"effectSizeThresholds"`
			Critical    [2]float64 `json:"criticalThresholds"`
			Measure     string     `json:"effectSizeMeasure"`
		} `json:"params"`
		Expected struct {
			Classification string `json:"classification"`
			Critical       *bool  `json:"critical"`
			ReasonNonEmpty bool   `json:"reasonNonEmpty"`
		} `json:"expected"`
	} `json:"classifier"`
	Scorer []struct {
		ID           string             `json:"id"`
		GroupWeights map[string]float64 `json:"groupWeights"`
		Metrics      [][3]any           `json:"metrics"`
		Expected     struct {
			SummaryScore      float64            `json:"summaryScore"`
			GroupScores       map[string]float64 `json:"groupScores"`
			GroupScoresSorted []float64          `json:"groupScoresSorted"`
		} `json:"expected"`
	} `json:"scorer"`
	Detectors []struct {
		ID       string `json:"id"`
		Detector struct {
			Factor            float64 `json:"factor"`
			ReduceSensitivity bool    `json:"reduceSensitivity"`
		} `json:"detector"`
		Values   []float64 `json:"values"`
		Outliers []int     `json:"expectedOutlierIdx"`
	} `json:"detectors"`
	Transforms []struct {
		ID       string   `json:"id"`
		Op       string   `json:"op"`
		Values   []number `json:"values"`
		Expected []number `json:"expected"`
	} `json:"transforms"`
	EffectSizes []struct {
		ID         string    `json:"id"`
		Experiment []float64 `json:"experiment"`
		Control    []float64 `json:"control"`
		Expected   struct {
			MeanRatio *number  `json:"meanRatio"`
			CLES      *float64 `json:"cles"`
		} `json:"expected"`
		Tolerance struct {
			CLES float64 `json:"cles"`
		} `json:"tolerance"`
	} `json:"effectSizes"`
}

func loadKayentaVectors(t *testing.T) kayentaVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/kayenta_judge.json")
	if err != nil {
		t.Fatal(err)
	}
	var v kayentaVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// kayentaLabel maps Kayenta's label names to ours.
func kayentaLabel(s string) Label {
	if s == "Nodata" {
		return LabelNoData
	}
	return Label(s)
}

// TestKayentaClassifier runs every classification Kayenta's
// MannWhitneyClassifier tests assert through Judge in kayenta mode.
func TestJudgeKayentaClassifier(t *testing.T) {
	v := loadKayentaVectors(t)
	if len(v.Classifier) != 34 {
		t.Fatalf("got %d classifier vectors, want 34", len(v.Classifier))
	}
	// Deliberate departures, where Kayenta passes a metric without data.
	deviations := map[string]Label{
		// Kayenta: no canary data and nanStrategy replace -> Pass. gohere
		// never passes a metric without data.
		"CL-26": LabelNoData,
	}
	for _, c := range v.Classifier {
		t.Run(c.ID, func(t *testing.T) {
			p := c.Params
			cfg := Config{
				Judge: ModeKayenta, Confidence: p.ConfLevel, Tolerance: ptr(p.Tolerance),
				Metrics: []Metric{{
					Name: "m", Query: "q", Direction: Direction(p.Direction),
					NaNStrategy: NaNStrategy(p.NaNStrategy), Critical: p.IsCritical,
					EffectSize: EffectSize{
						Measure:         kayentaMeasure(p.Measure),
						AllowedDecrease: p.EffectSize[0], AllowedIncrease: p.EffectSize[1],
						CriticalDecrease: p.Critical[0], CriticalIncrease: p.Critical[1],
					},
				}},
			}
			r := Judge(cfg, Data{"m": {Values: floats(c.Control)}}, Data{"m": {Values: floats(c.Experiment)}})
			got := r.Metrics[0]
			want := kayentaLabel(c.Expected.Classification)
			if d, ok := deviations[c.ID]; ok {
				want = d
			}
			if got.Label != want {
				t.Errorf("%s: label = %s, want %s (reason %q)", c.Test, got.Label, want, got.Reason)
			}
			if c.Expected.Critical != nil && got.CriticalFailure != *c.Expected.Critical {
				t.Errorf("%s: critical = %v, want %v (reason %q)", c.Test, got.CriticalFailure, *c.Expected.Critical, got.Reason)
			}
			if got.Reason == "" {
				t.Errorf("%s: empty reason", c.Test)
			}
		})
	}
}

// TestKayentaScorer reproduces Kayenta's WeightedSumScorer tests.
func TestJudgeKayentaScorer(t *testing.T) {
	v := loadKayentaVectors(t)
	if len(v.Scorer) != 13 {
		t.Fatalf("got %d scorer vectors, want 13", len(v.Scorer))
	}
	for _, c := range v.Scorer {
		t.Run(c.ID, func(t *testing.T) {
			cfg := Config{Judge: ModeKayenta, Groups: c.GroupWeights}.WithDefaults()
			r := Report{}
			for i, m := range c.Metrics {
				label, group, critical := kayentaLabel(m[0].(string)), m[1].(string), m[2].(bool)
				r.Metrics = append(r.Metrics, MetricResult{
					Name: strings.Repeat("m", i+1), Label: label, Groups: []string{group},
					Critical: critical, CriticalFailure: critical && label != LabelPass,
				})
			}
			score(cfg, &r)
			if r.Score != c.Expected.SummaryScore {
				t.Errorf("score = %v, want %v (reasons %q)", r.Score, c.Expected.SummaryScore, r.Reasons)
			}
			gotGroups := map[string]float64{}
			var sorted []float64
			for _, g := range r.Groups {
				gotGroups[g.Name] = g.Score
				sorted = append(sorted, g.Score)
			}
			slices.Sort(sorted)
			for name, want := range c.Expected.GroupScores {
				if gotGroups[name] != want {
					t.Errorf("group %s score = %v, want %v", name, gotGroups[name], want)
				}
			}
			if c.Expected.GroupScoresSorted != nil {
				if diff := cmp.Diff(c.Expected.GroupScoresSorted, sorted); diff != "" {
					t.Errorf("sorted group scores (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestKayentaDetectors checks the IQR fences against Kayenta's detector
// tests; the judge uses factor 3 with reduced sensitivity (DT-7, DT-8).
func TestJudgeKayentaDetectors(t *testing.T) {
	v := loadKayentaVectors(t)
	for _, c := range v.Detectors {
		t.Run(c.ID, func(t *testing.T) {
			var got []int
			if len(c.Values) > 0 {
				sorted := slices.Sorted(slices.Values(c.Values))
				lo, hi := iqrFences(sorted, c.Detector.Factor, c.Detector.ReduceSensitivity)
				for i, x := range c.Values {
					if x < lo || x > hi {
						got = append(got, i)
					}
				}
			}
			if diff := cmp.Diff(c.Outliers, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("outlier indices (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKayentaTransforms checks the NaN strategies (clean sorts, so the
// comparison is of sorted values).
func TestJudgeKayentaTransforms(t *testing.T) {
	v := loadKayentaVectors(t)
	for _, c := range v.Transforms {
		t.Run(c.ID, func(t *testing.T) {
			m := Metric{NaNStrategy: NaNRemove, Outliers: OutliersKeep}
			if strings.HasPrefix(c.Op, "replace") {
				m.NaNStrategy = NaNReplace
			}
			got, _ := clean(floats(c.Values), m)
			want := slices.Sorted(slices.Values(floats(c.Expected)))
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("cleaned values (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKayentaEffectSizes checks mean ratio and CLES.
func TestJudgeKayentaEffectSizes(t *testing.T) {
	v := loadKayentaVectors(t)
	for _, c := range v.EffectSizes {
		t.Run(c.ID, func(t *testing.T) {
			x := slices.Sorted(slices.Values(c.Experiment))
			y := slices.Sorted(slices.Values(c.Control))
			if w := c.Expected.MeanRatio; w != nil {
				got := meanRatio(mean(x), mean(y))
				if want := float64(*w); !(got == want || math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("mean ratio = %v, want %v", got, want)
				}
			}
			if w := c.Expected.CLES; w != nil {
				if got := cles(x, y); math.Abs(got-*w) > c.Tolerance.CLES+1e-12 {
					t.Errorf("cles = %v, want %v ± %v", got, *w, c.Tolerance.CLES)
				}
			}
		})
	}
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestJudgeKayentaQueries: Kayenta's Prometheus query configs become the
// queries its PrometheusMetricsService would send, with the scope and
// location of the deploy's sides.
func TestJudgeKayentaQueries(t *testing.T) {
	templates := map[string]string{"by-scope": `version="${scope}",env="${location}"`, "whole": `PromQL:sum(rate(x{version="${scope}"}[1m]))`}
	for _, c := range []struct {
		name string
		q    kayentaQuery
		want string // or the error
		err  bool
	}{
		{"inline PromQL", kayentaQuery{CustomInlineTemplate: `PromQL:histogram_quantile(0.99, sum by (le) (rate(h_bucket{version="${scope}",region="${location}"}[1m])))`},
			`histogram_quantile(0.99, sum by (le) (rate(h_bucket{version="{{.Version}}",region="{{.Env}}"}[1m])))`, false},
		{"inline filter with bindings and group by", kayentaQuery{MetricName: "cpu_seconds", CustomInlineTemplate: `version="${scope}"`,
			LabelBindings: []string{`mode="user"`}, GroupByFields: []string{"pod", "zone"}},
			`avg(cpu_seconds{version="{{.Version}}",mode="user"}) by (pod,zone)`, false},
		{"named filter template", kayentaQuery{MetricName: "m", CustomFilterTemplate: "by-scope"}, `avg(m{version="{{.Version}}",env="{{.Env}}"})`, false},
		{"named PromQL template", kayentaQuery{MetricName: "ignored", CustomFilterTemplate: "whole"}, `sum(rate(x{version="{{.Version}}"}[1m]))`, false},
		{"resource type: gohere's label conventions", kayentaQuery{MetricName: "m", ResourceType: "gce_instance", LabelBindings: []string{`code="500"`}},
			`avg(m{service="{{.Service}}",env="{{.Env}}",version="{{.Version}}",code="500"})`, false},
		{"extended scope parameter", kayentaQuery{MetricName: "m", CustomInlineTemplate: `ns="${namespace}",kind="${resourceType}"`, ResourceType: "k8s_pod"},
			`avg(m{ns="{{.Vars.namespace}}",kind="k8s_pod"})`, false},
		{"escaped placeholder as Kayenta stores it", kayentaQuery{MetricName: "m", CustomInlineTemplate: `version="$\{scope}"`}, `avg(m{version="{{.Version}}"})`, false},
		{"braces stay literal", kayentaQuery{CustomInlineTemplate: `PromQL:x{a="{{b}}"}`}, `x{a="{{"{{"}}b}}"}`, false},
		{"unknown template", kayentaQuery{MetricName: "m", CustomFilterTemplate: "nope"}, "not in the config's templates", true},
		{"FreeMarker expression", kayentaQuery{MetricName: "m", CustomInlineTemplate: `v="${scope!"x"}"`}, "not supported", true},
		{"FreeMarker directive", kayentaQuery{MetricName: "m", CustomInlineTemplate: `<#if scope??>v="${scope}"</#if>`}, "directives", true},
		{"deprecated customFilter", kayentaQuery{MetricName: "m", CustomFilter: "a=b"}, "deprecated", true},
		{"no metric name", kayentaQuery{CustomInlineTemplate: `v="${scope}"`}, "metricName is required", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.q.promQuery(templates)
			switch {
			case c.err && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("promQuery = %q, %v; want an error with %q", got, err, c.want)
			case !c.err && (err != nil || got != c.want):
				t.Errorf("promQuery = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
