package judge

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gohere/gohere"
)

// kayentaConfig is the part of a Kayenta canary config the judge reads;
// the rest (applications, templates, judge name, ...) is ignored.
type kayentaConfig struct {
	Metrics []struct {
		Name  string `json:"name"`
		Query struct {
			MetricName           string `json:"metricName"`
			CustomInlineTemplate string `json:"customInlineTemplate"`
		} `json:"query"`
		Groups                 []string `json:"groups"`
		AnalysisConfigurations struct {
			Canary struct {
				Direction    string `json:"direction"`
				NaNStrategy  string `json:"nanStrategy"`
				Critical     bool   `json:"critical"`
				MustHaveData bool   `json:"mustHaveData"`
				EffectSize   struct {
					Measure          string  `json:"measure"`
					AllowedIncrease  float64 `json:"allowedIncrease"`
					AllowedDecrease  float64 `json:"allowedDecrease"`
					CriticalIncrease float64 `json:"criticalIncrease"`
					CriticalDecrease float64 `json:"criticalDecrease"`
				} `json:"effectSize"`
				Outliers struct {
					Strategy      string  `json:"strategy"`
					OutlierFactor float64 `json:"outlierFactor"`
				} `json:"outliers"`
			} `json:"canary"`
		} `json:"analysisConfigurations"`
	} `json:"metrics"`
	Classifier struct {
		GroupWeights map[string]float64 `json:"groupWeights"`
	} `json:"classifier"`
}

// ImportKayenta reads a Kayenta canary config (JSON) into a Config in
// kayenta mode with Kayenta's defaults: direction either, NaNs removed,
// outliers kept, mean-ratio effect sizes of 1, confidence 0.98, tolerance
// 0.25, thresholds 95/75 (Kayenta takes those from the execution request).
// A metric's query is its Prometheus customInlineTemplate (without the
// "PromQL:" prefix) or else its metricName, kept verbatim: Kayenta's
// ${scope} placeholders are not Go templates and need editing before a
// live analysis. Unknown Kayenta fields are ignored.
func ImportKayenta(r io.Reader) (Config, error) {
	var k kayentaConfig
	dec := json.NewDecoder(io.LimitReader(r, MaxConfigBytes))
	if err := dec.Decode(&k); err != nil {
		return Config{}, gohere.Errorf(gohere.Invalid, "kayenta canary config: %v", err)
	}
	cfg := Config{Judge: ModeKayenta, Groups: k.Classifier.GroupWeights}
	for _, km := range k.Metrics {
		c := km.AnalysisConfigurations.Canary
		m := Metric{
			Name:         km.Name,
			Query:        strings.TrimSpace(strings.TrimPrefix(km.Query.CustomInlineTemplate, "PromQL:")),
			Groups:       km.Groups,
			Direction:    Direction(c.Direction),
			Critical:     c.Critical,
			MustHaveData: c.MustHaveData,
			EffectSize: EffectSize{
				Measure:          kayentaMeasure(c.EffectSize.Measure),
				AllowedIncrease:  c.EffectSize.AllowedIncrease,
				AllowedDecrease:  c.EffectSize.AllowedDecrease,
				CriticalIncrease: c.EffectSize.CriticalIncrease,
				CriticalDecrease: c.EffectSize.CriticalDecrease,
			},
			Outliers:      Outliers(c.Outliers.Strategy),
			OutlierFactor: c.Outliers.OutlierFactor,
		}
		if m.Query == "" {
			m.Query = km.Query.MetricName
		}
		// Kayenta's "none" is its default: remove.
		if c.NaNStrategy != "none" {
			m.NaNStrategy = NaNStrategy(c.NaNStrategy)
		}
		cfg.Metrics = append(cfg.Metrics, m)
	}
	cfg = cfg.WithDefaults()
	if ps := cfg.problems(); len(ps) > 0 {
		return Config{}, fmt.Errorf("kayenta canary config: %w", joinProblems(ps, nil))
	}
	return cfg, nil
}

// kayentaMeasure maps Kayenta's camel-case names to ours; anything else
// stays as written so that validation names it.
func kayentaMeasure(s string) Measure {
	switch s {
	case "meanRatio":
		return MeanRatio
	case "cles", "CLES":
		return CLES
	}
	return Measure(s)
}
