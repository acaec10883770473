package judge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/gohere/gohere"
)

// kayentaConfig is the part of a Kayenta canary config the judge reads;
// the rest (applications, templates, judge name, ...) is ignored.
type kayentaConfig struct {
	Metrics []struct {
		Name                   string       `json:"name"`
		Query                  kayentaQuery `json:"query"`
		Groups                 []string     `json:"groups"`
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
	Templates  map[string]string `json:"templates"`
	Classifier struct {
		GroupWeights map[string]float64 `json:"groupWeights"`
	} `json:"classifier"`
}

// kayentaQuery is Kayenta's PrometheusCanaryMetricSetQueryConfig.
type kayentaQuery struct {
	MetricName           string   `json:"metricName"`
	LabelBindings        []string `json:"labelBindings"`
	GroupByFields        []string `json:"groupByFields"`
	ResourceType         string   `json:"resourceType"`
	CustomInlineTemplate string   `json:"customInlineTemplate"`
	CustomFilterTemplate string   `json:"customFilterTemplate"` // a key of the config's templates
	CustomFilter         string   `json:"customFilter"`         // deprecated; Kayenta refuses it
}

// ImportKayenta reads a Kayenta canary config (JSON) into a Config in
// kayenta mode with Kayenta's defaults: direction either, NaNs removed,
// outliers kept, mean-ratio effect sizes of 1, confidence 0.98, tolerance
// 0.25, thresholds 95/75 (Kayenta takes those from the execution request).
// A metric's query is built as Kayenta's PrometheusMetricsService builds
// it (see promQuery), with its FreeMarker placeholders mapped onto the
// deploy, so that an imported config runs live as it is. Unknown Kayenta
// fields are ignored.
func ImportKayenta(r io.Reader) (Config, error) {
	var k kayentaConfig
	dec := json.NewDecoder(io.LimitReader(r, MaxConfigBytes))
	if err := dec.Decode(&k); err != nil {
		return Config{}, gohere.Errorf(gohere.Invalid, "kayenta canary config: %v", err)
	}
	cfg := Config{Judge: ModeKayenta, Groups: k.Classifier.GroupWeights}
	var errs []error
	for i, km := range k.Metrics {
		c := km.AnalysisConfigurations.Canary
		q, err := km.Query.promQuery(k.Templates)
		if err != nil {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "config: metrics[%d].query: %v", i, err))
		}
		m := Metric{
			Name:         km.Name,
			Query:        q,
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
		// Kayenta's "none" is its default: remove.
		if c.NaNStrategy != "none" {
			m.NaNStrategy = NaNStrategy(c.NaNStrategy)
		}
		cfg.Metrics = append(cfg.Metrics, m)
	}
	if len(errs) > 0 {
		return Config{}, gohere.Errorf(gohere.Invalid, "kayenta canary config: %w", errors.Join(errs...))
	}
	cfg = cfg.WithDefaults()
	if ps := cfg.problems(); len(ps) > 0 {
		return Config{}, fmt.Errorf("kayenta canary config: %w", joinProblems(ps, nil))
	}
	return cfg, nil
}

// promQuery builds the query as Kayenta's PrometheusMetricsService does:
// the expanded customInlineTemplate (or the customFilterTemplate it names)
// is the whole query after a "PromQL:" prefix; otherwise it is a
// comma-separated filter and the query is
// avg(metricName{filter,labelBindings}) by (groupByFields). Without a
// custom filter Kayenta selects the scope by instance names of GCE or EC2
// (resourceType); gohere selects it by the labels of its conventions,
// service, env and version, the deploy's.
func (q kayentaQuery) promQuery(templates map[string]string) (string, error) {
	if q.CustomFilter != "" {
		return "", fmt.Errorf("customFilter is deprecated (Kayenta refuses it too): use customInlineTemplate")
	}
	text := q.CustomInlineTemplate
	if text == "" && q.CustomFilterTemplate != "" {
		t, ok := templates[q.CustomFilterTemplate]
		if !ok {
			return "", fmt.Errorf("customFilterTemplate %q is not in the config's templates", q.CustomFilterTemplate)
		}
		text = t
	}
	filter, err := fromFreeMarker(strings.TrimSpace(text), q.ResourceType)
	if err != nil {
		return "", err
	}
	if promql, ok := strings.CutPrefix(filter, "PromQL:"); ok {
		return strings.TrimSpace(promql), nil
	}
	if q.MetricName == "" {
		return "", fmt.Errorf("metricName is required unless the template is a whole PromQL: query")
	}
	var filters []string
	if filter != "" {
		filters = strings.Split(filter, ",")
	} else {
		filters = []string{`service="{{.Service}}"`, `env="{{.Env}}"`, `version="{{.Version}}"`}
	}
	for _, b := range q.LabelBindings {
		filters = append(filters, escapeTemplate(b))
	}
	query := "avg(" + escapeTemplate(q.MetricName) + "{" + strings.Join(filters, ",") + "})"
	if len(q.GroupByFields) > 0 {
		query += " by (" + strings.Join(q.GroupByFields, ",") + ")"
	}
	return query, nil
}

// kayentaVar is a FreeMarker interpolation ${...}.
var kayentaVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// kayentaVars maps Kayenta's scope attributes onto a deploy: the scope
// tells the two sides apart as the version does, the location is the
// environment. gohere's own names are accepted too.
var kayentaVars = map[string]string{
	"scope": "{{.Version}}", "location": "{{.Env}}",
	"service": "{{.Service}}", "env": "{{.Env}}", "version": "{{.Version}}", "role": "{{.Role}}",
	"baseline": "{{.Baseline}}", "canary": "{{.Canary}}",
}

// fromFreeMarker turns a Kayenta template into a Go query template: ${scope}
// and ${location} as kayentaVars says, ${resourceType} the metric's, any
// other ${name} (Kayenta's extendedScopeParams) {{.Vars.name}}. Text that
// Go templates would read as an action stays literal.
func fromFreeMarker(text, resourceType string) (string, error) {
	text = strings.ReplaceAll(text, `$\{`, "${") // Kayenta's own escape of stored templates
	if strings.Contains(text, "<#") {
		return "", fmt.Errorf("FreeMarker directives (<#...>) are not supported: only ${name} placeholders")
	}
	var bad error
	out := kayentaVar.ReplaceAllStringFunc(escapeTemplate(text), func(m string) string {
		name := strings.TrimSpace(m[2 : len(m)-1])
		switch {
		case kayentaVars[name] != "":
			return kayentaVars[name]
		case name == "resourceType":
			return escapeTemplate(resourceType)
		case identifier.MatchString(name):
			return "{{.Vars." + name + "}}"
		}
		bad = fmt.Errorf("FreeMarker expression %s is not supported: only ${name} placeholders", m)
		return m
	})
	return out, bad
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// escapeTemplate keeps text literal in a Go template.
func escapeTemplate(s string) string { return strings.ReplaceAll(s, "{{", `{{"{{"}}`) }

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
