package compare

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/gohere/gohere"
)

// Labels names the Prometheus labels that tell services, environments and
// versions apart. Zero fields mean the defaults service, env and version.
type Labels struct {
	Version string `json:"version_label" yaml:"version_label"`
	Service string `json:"service_label" yaml:"service_label"`
	Env     string `json:"env_label" yaml:"env_label"`
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// WithDefaults fills empty names with version, service and env.
func (l Labels) WithDefaults() Labels {
	if l.Version == "" {
		l.Version = "version"
	}
	if l.Service == "" {
		l.Service = "service"
	}
	if l.Env == "" {
		l.Env = "env"
	}
	return l
}

// Validate reports every name that is not a Prometheus label name.
func (l Labels) Validate() error {
	var errs []error
	for _, f := range []struct{ field, v string }{
		{"version_label", l.Version}, {"service_label", l.Service}, {"env_label", l.Env},
	} {
		if !labelName.MatchString(f.v) {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "%s %q: want a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)", f.field, f.v))
		}
	}
	return errors.Join(errs...)
}

// Groups of signals: the dashboard's rows and the page's sections.
const (
	GroupRED        = "red"        // rate, errors, duration
	GroupSaturation = "saturation" // CPU, memory
)

// SignalSpec is one signal as configured: a PromQL template and how to show it.
type SignalSpec struct {
	Name  string `json:"name" yaml:"name"`   // identifier, unique: request_rate
	Title string `json:"title" yaml:"title"` // shown: Request rate
	Unit  string `json:"unit" yaml:"unit"`   // a Grafana unit id: reqps, percentunit, s, bytes, short
	Group string `json:"group" yaml:"group"` // red or saturation
	Query string `json:"query" yaml:"query"` // PromQL text/template, see Vars
}

// Vars are what a signal's template sees: the same names as canary configs'
// query templates, plus Window.
type Vars struct {
	Service  string
	Env      string
	Version  string // the side being queried
	Role     string // baseline or canary
	Baseline string
	Canary   string
	Window   string // the range-vector window: 5m, or $__rate_interval in Grafana
	Vars     map[string]string
}

// Roles of the two sides.
const (
	RoleBaseline = "baseline"
	RoleCanary   = "canary"
)

// Signal is a validated SignalSpec, ready to render.
type Signal struct {
	SignalSpec
	tmpl *template.Template
}

// NewSignals parses and validates specs: a template that does not parse,
// names a field that does not exist or a var that vars lacks is an error at
// load, not at the first render. Every problem is returned at once.
func NewSignals(specs []SignalSpec, vars map[string]string) ([]Signal, error) {
	var (
		errs  []error
		out   []Signal
		names = map[string]bool{}
	)
	for i, sp := range specs {
		s, err := newSignal(sp, vars)
		if err != nil {
			errs = append(errs, fmt.Errorf("signal %d (%s): %w", i, sp.Name, err))
			continue
		}
		if names[sp.Name] {
			errs = append(errs, gohere.Errorf(gohere.Invalid, "signal %d: name %q is used twice", i, sp.Name))
			continue
		}
		names[sp.Name] = true
		out = append(out, s)
	}
	if len(specs) == 0 {
		errs = append(errs, gohere.Errorf(gohere.Invalid, "no signals"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func newSignal(sp SignalSpec, vars map[string]string) (Signal, error) {
	if !labelName.MatchString(sp.Name) {
		return Signal{}, gohere.Errorf(gohere.Invalid, "name %q: want [a-zA-Z_][a-zA-Z0-9_]*", sp.Name)
	}
	if sp.Title == "" {
		sp.Title = sp.Name
	}
	if sp.Group != GroupRED && sp.Group != GroupSaturation {
		return Signal{}, gohere.Errorf(gohere.Invalid, "group %q: want red or saturation", sp.Group)
	}
	if strings.TrimSpace(sp.Query) == "" {
		return Signal{}, gohere.Errorf(gohere.Invalid, "query is required")
	}
	t, err := template.New(sp.Name).Option("missingkey=error").Parse(sp.Query)
	if err != nil {
		return Signal{}, gohere.Errorf(gohere.Invalid, "query template: %w", err)
	}
	s := Signal{SignalSpec: sp, tmpl: t}
	trial := Vars{Service: "s", Env: "e", Version: "v", Role: RoleCanary, Baseline: "b", Canary: "v", Window: "5m", Vars: vars}
	if _, err := s.Render(trial); err != nil {
		return Signal{}, err
	}
	return s, nil
}

// Render resolves the signal's query for one side. Names that would break
// out of a PromQL string literal are refused, and every value, the vars
// included, is escaped for a double-quoted string as well (issue 13): the
// template decides whether it lands in "…" or in =~"…".
func (s Signal) Render(v Vars) (string, error) {
	if s.tmpl == nil {
		return "", gohere.Errorf(gohere.Invalid, "signal %q was not built by NewSignals", s.Name)
	}
	for _, f := range []struct{ field, v string }{
		{"service", v.Service}, {"env", v.Env}, {"version", v.Version}, {"role", v.Role},
		{"baseline", v.Baseline}, {"canary", v.Canary}, {"window", v.Window},
	} {
		if breaksQuery(f.v) {
			return "", gohere.Errorf(gohere.Invalid, "signal %s: %s %q: quotes, backslashes and line breaks are not allowed", s.Name, f.field, f.v)
		}
	}
	esc := gohere.EscapeLabelValue
	vars := make(map[string]string, len(v.Vars))
	for k, x := range v.Vars {
		vars[k] = esc(x)
	}
	v = Vars{Service: esc(v.Service), Env: esc(v.Env), Version: esc(v.Version), Role: esc(v.Role),
		Baseline: esc(v.Baseline), Canary: esc(v.Canary), Window: esc(v.Window), Vars: vars}
	var b strings.Builder
	if err := s.tmpl.Execute(&b, v); err != nil {
		return "", gohere.Errorf(gohere.Invalid, "signal %s: query template: %w", s.Name, err)
	}
	return b.String(), nil
}

// breaksQuery reports characters that end or escape a PromQL string literal.
func breaksQuery(v string) bool { return strings.ContainsAny(v, "\"'\\`\n\r") }

// DefaultSignals are the signals for services instrumented the common way:
// http_requests_total{code} and http_request_duration_seconds_bucket for
// RED, process_cpu_seconds_total and process_resident_memory_bytes for
// saturation, told apart by the given label names.
func DefaultSignals(l Labels) ([]Signal, error) {
	l = l.WithDefaults()
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return NewSignals(defaultSpecs(l), nil)
}

// defaultSpecs are DefaultSignals before validation; l must be valid.
func defaultSpecs(l Labels) []SignalSpec {
	sel := fmt.Sprintf(`%s="{{.Service}}",%s="{{.Env}}",%s="{{.Version}}"`, l.Service, l.Env, l.Version)
	rate := func(metric, extra string) string {
		return fmt.Sprintf("rate(%s{%s%s}[{{.Window}}])", metric, sel, extra)
	}
	quantile := func(q string) string {
		return fmt.Sprintf("histogram_quantile(%s, sum by (le) (%s))", q, rate("http_request_duration_seconds_bucket", ""))
	}
	return []SignalSpec{
		{Name: "request_rate", Title: "Request rate", Unit: "reqps", Group: GroupRED,
			Query: "sum(" + rate("http_requests_total", "") + ")"},
		{Name: "error_ratio", Title: "Error ratio (5xx)", Unit: "percentunit", Group: GroupRED,
			Query: "sum(" + rate("http_requests_total", `,code=~"5.."`) + ") / sum(" + rate("http_requests_total", "") + ")"},
		{Name: "latency_p50", Title: "Latency p50", Unit: "s", Group: GroupRED, Query: quantile("0.5")},
		{Name: "latency_p99", Title: "Latency p99", Unit: "s", Group: GroupRED, Query: quantile("0.99")},
		{Name: "cpu", Title: "CPU (cores)", Unit: "short", Group: GroupSaturation,
			Query: "sum(" + rate("process_cpu_seconds_total", "") + ")"},
		{Name: "memory", Title: "Memory (resident)", Unit: "bytes", Group: GroupSaturation,
			Query: fmt.Sprintf("sum(process_resident_memory_bytes{%s})", sel)},
	}
}
