package analysis

import (
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/judge"
)

func TestResolve(t *testing.T) {
	cfg := loadConfig(t, `metrics:
  - name: latency
    query: 'q{service="{{.Service}}",env="{{.Env}}",version="{{.Version}}",role="{{.Role}}",ns="{{.Vars.ns}}"} - on() b{v="{{.Baseline}}"} - on() c{v="{{.Canary}}"}'
  - name: errors
    numerator: 'e{v="{{.Version}}"}'
    denominator: 'r{v="{{.Version}}"}'
analysis:
  lifetime: 10m
  vars: {ns: shop}
`)
	qs, err := compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tg := Target{Service: "checkout", Env: "prod", Baseline: "v1", Canary: "v2", Vars: cfg.Analysis.Vars}
	if err := qs.check(tg, true); err != nil {
		t.Fatalf("check: %v", err)
	}
	var got []string
	for _, mq := range qs {
		for _, p := range mq.parts {
			for _, role := range []string{RoleBaseline, RoleCanary} {
				q, err := p.resolve(tg, role)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, q)
			}
		}
	}
	want := []string{
		`q{service="checkout",env="prod",version="v1",role="baseline",ns="shop"} - on() b{v="v1"} - on() c{v="v2"}`,
		`q{service="checkout",env="prod",version="v2",role="canary",ns="shop"} - on() b{v="v1"} - on() c{v="v2"}`,
		`e{v="v1"}`, `e{v="v2"}`, `r{v="v1"}`, `r{v="v2"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resolved queries (-want +got):\n%s", diff)
	}
}

func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		target      Target
		want        string
	}{
		{"missing variable", `x{ns="{{.Vars.nope}}"}`, Target{Canary: "v2", Baseline: "v1"}, "nope"},
		{"unknown field", `x{a="{{.Region}}"}`, Target{Canary: "v2", Baseline: "v1"}, "Region"},
		{"empty query", `{{if false}}x{{end}}`, Target{Canary: "v2", Baseline: "v1"}, "empty query"},
		{"needs a baseline version", `x{version="{{.Version}}"}`, Target{Canary: "v2"}, "baseline"},
		{"needs .Baseline", `x{canary="{{.Canary}}",b="{{.Baseline}}"}`, Target{Canary: "v2"}, "baseline"},
		// A series compared with itself passes whatever the canary does.
		{"same version on both sides", `x{version="{{.Version}}"}`, Target{Canary: "v2", Baseline: "v2"}, "same version v2"},
		{"sides not told apart", `x{service="{{.Service}}"}`, Target{Canary: "v2", Baseline: "v1"}, "same query for baseline and canary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Built, not loaded: LoadConfig refuses unknown variables
			// itself; check still meets them in a config stored before.
			cfg := judge.Config{Metrics: []judge.Metric{{Name: "m", Query: tc.query}}}.WithDefaults()
			qs, err := compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = qs.check(tc.target, true)
			if gohere.KindOf(err) != gohere.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check = %v; want an Invalid error mentioning %q", err, tc.want)
			}
		})
	}
	// before_after mode compares one selector across time: the same query
	// for both sides is the point.
	same := loadConfig(t, "metrics:\n  - name: m\n    query: 'x{service=\"{{.Service}}\"}'\n")
	if qs, _ := compile(same); qs.check(Target{Canary: "v2", Baseline: "v1"}, false) != nil {
		t.Error("before_after: one query for both sides was refused")
	}
	// Roles alone (no versions) need no baseline version.
	cfg := loadConfig(t, "metrics:\n  - name: m\n    query: 'x{role=\"{{.Role}}\"}'\n")
	qs, _ := compile(cfg)
	if err := qs.check(Target{Canary: "v2"}, true); err != nil {
		t.Errorf("check(role only, no baseline) = %v, want nil", err)
	}
}

// TestTemplateVarsAreWhatQueriesSee: the variables judge.LoadConfig lets
// a query template name are exactly the fields resolve fills in.
func TestTemplateVarsAreWhatQueriesSee(t *testing.T) {
	var fields []string
	for f := range reflect.TypeFor[templateData]().Fields() {
		fields = append(fields, f.Name)
	}
	slices.Sort(fields)
	want := slices.Sorted(slices.Values(judge.TemplateVars))
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("judge.TemplateVars (-) and the fields of templateData (+) differ:\n%s", diff)
	}
}

func series(labels map[string]string, start time.Time, vs ...float64) prom.Series {
	s := prom.Series{Labels: labels}
	for i, v := range vs {
		s.Points = append(s.Points, prom.Point{T: start.Add(time.Duration(i) * time.Minute), V: v})
	}
	return s
}

func TestCombine(t *testing.T) {
	a := series(map[string]string{"pod": "a"}, t0, 1, 2, 3)
	b := series(map[string]string{"pod": "b"}, t0.Add(time.Minute), 10, 20, math.NaN()) // one step later
	for _, tc := range []struct {
		agg  judge.Aggregate
		want []float64
	}{
		{judge.AggregateSum, []float64{1, 12, 23, math.NaN()}},
		{judge.AggregateMean, []float64{1, 6, 11.5, math.NaN()}},
		{judge.AggregateMax, []float64{1, 10, 20, math.NaN()}},
	} {
		t.Run(string(tc.agg), func(t *testing.T) {
			if diff := cmp.Diff(tc.want, combine(tc.agg, []prom.Series{a, b}), cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("combine (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAssemble(t *testing.T) {
	cfg := loadConfig(t, `metrics:
  - name: latency
    query: 'lat{v="{{.Version}}"}'
  - name: errors
    numerator: 'err{v="{{.Version}}"}'
    denominator: 'req{v="{{.Version}}"}'
`)
	qs, err := compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lbl := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	type fx struct {
		k sideKey
		f *fetched
	}
	entry := func(metric int, role string, part int, query string, ss ...prom.Series) fx {
		f := &fetched{rec: Query{Metric: cfg.Metrics[metric].Name, Role: role, Query: query}, series: ss}
		for _, s := range ss {
			f.rec.Points += len(s.Points)
		}
		return fx{sideKey{metric, role, part}, f}
	}
	build := func(entries ...fx) map[sideKey]*fetched {
		got := map[sideKey]*fetched{}
		for _, e := range entries {
			got[e.k] = e.f
		}
		return got
	}

	t.Run("several series paired by the labels that vary", func(t *testing.T) {
		got := build(
			entry(0, RoleBaseline, 0, `lat{v="v1"}`,
				series(lbl("v", "v1", "path", "/a"), t0, 1, 2), series(lbl("v", "v1", "path", "/b"), t0, 3, 4)),
			entry(0, RoleCanary, 0, `lat{v="v2"}`,
				series(lbl("v", "v2", "path", "/a"), t0, 5, 6), series(lbl("v", "v2", "path", "/c"), t0, 7, 8)),
			entry(1, RoleBaseline, 0, `err{v="v1"}`, series(lbl("code", "500"), t0, 1, 1), series(lbl("code", "503"), t0, 0, 2)),
			entry(1, RoleBaseline, 1, `req{v="v1"}`, series(nil, t0, 100, 100)),
			entry(1, RoleCanary, 0, `err{v="v2"}`), // no errors at all: no series
			entry(1, RoleCanary, 1, `req{v="v2"}`, series(nil, t0, 50, math.NaN(), 50)),
		)
		in := assemble(cfg, qs, judge.AggregateNone, got)
		var names []string
		for _, m := range in.cfg.Metrics {
			names = append(names, m.Name)
		}
		if diff := cmp.Diff([]string{"errors", `latency{path="/a"}`, `latency{path="/b"}`, `latency{path="/c"}`}, slices.Sorted(slices.Values(names))); diff != "" {
			t.Errorf("judged metrics (-want +got):\n%s", diff)
		}
		wantBaseline := judge.Data{
			`latency{path="/a"}`: {Values: []float64{1, 2}}, `latency{path="/b"}`: {Values: []float64{3, 4}},
			"errors": {Counts: &judge.Counts{Numerator: 4, Denominator: 200}},
		}
		// No error counter yet is no errors, not missing data.
		wantCanary := judge.Data{`latency{path="/a"}`: {Values: []float64{5, 6}}, `latency{path="/c"}`: {Values: []float64{7, 8}},
			"errors": {Counts: &judge.Counts{Numerator: 0, Denominator: 100}}}
		if diff := cmp.Diff(wantBaseline, in.baseline); diff != "" {
			t.Errorf("baseline data (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantCanary, in.canary); diff != "" {
			t.Errorf("canary data (-want +got):\n%s", diff)
		}
		wantReasons := map[string]string{
			`latency{path="/b"}`: `no canary series with {path="/b"} for lat{v="v2"} to pair with the baseline series`,
			`latency{path="/c"}`: `no baseline series with {path="/c"} for lat{v="v1"} to pair with the canary series`,
		}
		if diff := cmp.Diff(wantReasons, in.reasons); diff != "" {
			t.Errorf("reasons (-want +got):\n%s", diff)
		}
		if len(in.warnings) != 2 || in.nBaseline != 10 || in.nCanary != 7 {
			t.Errorf("warnings %q, samples %d/%d; want 2 mismatches and 10/7 points", in.warnings, in.nBaseline, in.nCanary)
		}
	})

	t.Run("rate metric paired per route", func(t *testing.T) {
		r := func(route string, vs ...float64) prom.Series { return series(lbl("route", route), t0, vs...) }
		got := build(
			entry(0, RoleBaseline, 0, "b", series(nil, t0, 1)), entry(0, RoleCanary, 0, "c", series(nil, t0, 1)),
			entry(1, RoleBaseline, 0, "bn", r("/a", 1, 2)),
			entry(1, RoleBaseline, 1, "bd", r("/a", 10, 10), r("/b", 5, 5)),
			entry(1, RoleCanary, 0, "cn", r("/b", 4, 0)), // /a had no errors: its counter does not exist
			entry(1, RoleCanary, 1, "cd", r("/a", 20, 20), r("/b", 6, 6)),
		)
		in := assemble(cfg, qs, judge.AggregateNone, got)
		want := map[string]judge.Data{
			RoleBaseline: {"latency": {Values: []float64{1}},
				`errors{route="/a"}`: {Counts: &judge.Counts{Numerator: 3, Denominator: 20}},
				`errors{route="/b"}`: {Counts: &judge.Counts{Numerator: 0, Denominator: 10}}},
			RoleCanary: {"latency": {Values: []float64{1}},
				`errors{route="/a"}`: {Counts: &judge.Counts{Numerator: 0, Denominator: 40}},
				`errors{route="/b"}`: {Counts: &judge.Counts{Numerator: 4, Denominator: 12}}},
		}
		if diff := cmp.Diff(want, map[string]judge.Data{RoleBaseline: in.baseline, RoleCanary: in.canary}); diff != "" {
			t.Errorf("data (-want +got):\n%s", diff)
		}
		if len(in.reasons) != 0 {
			t.Errorf("reasons %v, want none", in.reasons)
		}
	})

	t.Run("aggregate sum", func(t *testing.T) {
		got := build(
			entry(0, RoleBaseline, 0, "b", series(lbl("pod", "1"), t0, 1, 2), series(lbl("pod", "2"), t0, 3, 4)),
			entry(0, RoleCanary, 0, "c", series(lbl("pod", "3"), t0, 5, 6)),
			entry(1, RoleBaseline, 0, "", series(nil, t0, 1)), entry(1, RoleBaseline, 1, "", series(nil, t0, 9)),
			entry(1, RoleCanary, 0, "", series(nil, t0, 1)), entry(1, RoleCanary, 1, "rq"),
		)
		in := assemble(cfg, qs, judge.AggregateSum, got)
		if diff := cmp.Diff(judge.Samples{Values: []float64{4, 6}}, in.baseline["latency"]); diff != "" {
			t.Errorf("summed baseline (-want +got):\n%s", diff)
		}
		if _, ok := in.canary["errors"]; ok || in.reasons["errors"] != "no series for rq" {
			t.Errorf("a rate without denominator series: data %v, reason %q; want none and the query", in.canary["errors"], in.reasons["errors"])
		}
	})
}

func TestWidenRanges(t *testing.T) {
	for _, c := range []struct {
		query, want string
		ok          bool
	}{
		{`sum(increase(x{code=~"5[0-9]."}[1m]))`, `sum(increase(x{code=~"5[0-9]."}[1800s]))`, true},
		{`sum(increase(a[1m])) + sum(increase(b[ 5m ] offset 1h))`, `sum(increase(a[1800s])) + sum(increase(b[1800s] offset 1h))`, true},
		{`sum(increase(x{path='/a[b]',q="\"]"}[1h30m]))`, `sum(increase(x{path='/a[b]',q="\"]"}[1800s]))`, true},
		{"increase(x[1m]) # [not a range]", "increase(x[1800s]) # [not a range]", true},
		{`sum(errors:increase1m)`, `sum(errors:increase1m)`, false},                                 // a recording rule
		{`sum_over_time(increase(x[1m])[30m:1m])`, `sum_over_time(increase(x[1m])[30m:1m])`, false}, // a subquery
		{`increase(x[$__range])`, `increase(x[$__range])`, false},
		{`sum(rate(x[1m]))`, `sum(rate(x[1m]))`, false}, // a per-second rate does not count
		{`sum(irate (x[1m]))`, `sum(irate (x[1m]))`, false},
		{`sum(increase(x[5m] @ start()))`, `sum(increase(x[5m] @ start()))`, false}, // pinned in time
		{`sum(increase(rate_limited_total{op="rate("}[1m]))`, `sum(increase(rate_limited_total{op="rate("}[1800s]))`, true},
	} {
		got, ok := WidenRanges(c.query, 30*time.Minute)
		if got != c.want || ok != c.ok {
			t.Errorf("WidenRanges(%s) = %s, %v; want %s, %v", c.query, got, ok, c.want, c.ok)
		}
	}
}

// TestPrepareKayenta: a Kayenta canary config starts an analysis as it is
// exported, its ${scope} and ${location} resolved per side from the deploy.
func TestPrepareKayenta(t *testing.T) {
	config, err := os.ReadFile("../../judge/testdata/config/valid/kayenta-live.json")
	if err != nil {
		t.Fatal(err)
	}
	d := gohere.Deploy{ID: "d1", Service: "checkout", Env: "prod", Version: "v2", BaselineVersion: "v1"}
	a, err := Prepare(d, config, t0, t0.Add(30*time.Minute), t0)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	cfg, err := judge.LoadConfig(strings.NewReader(a.Config))
	if err != nil {
		t.Fatal(err)
	}
	qs, err := compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, role := range []string{RoleBaseline, RoleCanary} {
		q, err := qs[0].parts[0].resolve(target(a, cfg), role)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, q)
	}
	want := []string{`avg(request_latency_seconds{service="checkout",version="v1",env="prod"})`,
		`avg(request_latency_seconds{service="checkout",version="v2",env="prod"})`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resolved latency queries (-want +got):\n%s", diff)
	}
}

// FuzzWidenRanges: whatever the query, widening never panics, changes
// nothing outside range selectors (strings and comments stay as written),
// and a widened query widens again to itself.
func FuzzWidenRanges(f *testing.F) {
	for _, q := range []string{
		`sum(increase(http_requests_total{code=~"5.."}[1m]))`,
		`sum(increase(x{a="[1m]"}[5m])) # [2m] comment`,
		"rate(x[1m:30s])", "x[", `x{a='\'[1m]'}[90s]`, "`raw [1m]`[1h30m]",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		wide, ok := WidenRanges(q, 20*time.Minute)
		if !ok {
			if wide != q {
				t.Fatalf("not widened but changed: %q → %q", q, wide)
			}
			return
		}
		again, ok := WidenRanges(wide, 20*time.Minute)
		if !ok || again != wide {
			t.Fatalf("widening %q twice: %q then %q (%v)", q, wide, again, ok)
		}
	})
}
