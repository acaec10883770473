package analysis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/judge"
)

// Source is the Prometheus-compatible store an analysis queries
// (*prom.Client). Its errors carry gohere kinds: Invalid for a query the
// store rejects (never retried), anything else is retried.
type Source interface {
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error)
}

// SourceFunc is a Source made of a function: replays, tests.
type SourceFunc func(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error)

// QueryRange calls f.
func (f SourceFunc) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]prom.Series, error) {
	return f(ctx, query, start, end, step)
}

// Roles of the two sides, as query templates see them in .Role.
const (
	RoleBaseline = "baseline"
	RoleCanary   = "canary"
)

// Target is what an analysis compares: the service and environment, the
// two versions, and the config's variables.
type Target struct {
	Service  string
	Env      string
	Baseline string // version; empty when the deploy has none
	Canary   string
	Vars     map[string]string
}

// templateData is what a query template sees.
type templateData struct {
	Service, Env     string
	Version, Role    string // of the side being queried
	Baseline, Canary string
	Vars             map[string]string
}

// Query is the record of one query of an interval: the resolved query of a
// side (and part of a rate metric), what came back and how long it took.
type Query struct {
	Metric  string    `json:"metric"`
	Part    string    `json:"part,omitempty"` // numerator or denominator of a rate metric
	Role    string    `json:"role"`
	Query   string    `json:"query"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Step    string    `json:"step"`
	Series  int       `json:"series"`
	Points  int       `json:"points"`
	Result  string    `json:"result"` // one of the Result* constants
	Error   string    `json:"error,omitempty"`
	Seconds float64   `json:"seconds"`
}

// Query results: the label values of gohere_metric_queries_total.
const (
	ResultOK          = "ok"
	ResultEmpty       = "empty" // no series
	ResultInvalid     = "invalid"
	ResultUnavailable = "unavailable"
	ResultError       = "error"
)

// compiled are the parsed query templates of a config, one entry per metric.
type compiled []metricQueries

type metricQueries struct {
	metric judge.Metric
	parts  []part // the query, or numerator and denominator
}

type part struct {
	name string // "" for a value metric's query
	tmpl *template.Template
}

// compile parses every query template of cfg with missingkey=error.
func compile(cfg judge.Config) (compiled, error) {
	var out compiled
	var errs []error
	for i, m := range cfg.Metrics {
		mq := metricQueries{metric: m}
		texts := [][2]string{{"", m.Query}}
		if m.Rate() {
			texts = [][2]string{{"numerator", m.Numerator}, {"denominator", m.Denominator}}
		}
		for _, t := range texts {
			field := cmp.Or(t[0], "query")
			tmpl, err := template.New(fmt.Sprintf("metrics[%d].%s", i, field)).Option("missingkey=error").Parse(t[1])
			if err != nil {
				errs = append(errs, gohere.Errorf(gohere.Invalid, "metric %q: %s: %v", m.Name, field, err))
				continue
			}
			mq.parts = append(mq.parts, part{name: t[0], tmpl: tmpl})
		}
		out = append(out, mq)
	}
	return out, errors.Join(errs...)
}

// resolve executes a query template for one side. Every value is escaped
// for a double-quoted PromQL string, so that no name or var can change the
// query's structure (issue 13).
func (p part) resolve(t Target, role string) (string, error) {
	version := t.Canary
	if role == RoleBaseline {
		version = t.Baseline
	}
	vars := make(map[string]string, len(t.Vars))
	for k, v := range t.Vars {
		vars[k] = gohere.EscapeLabelValue(v)
	}
	esc := gohere.EscapeLabelValue
	var b strings.Builder
	if err := p.tmpl.Execute(&b, templateData{Service: esc(t.Service), Env: esc(t.Env), Version: esc(version), Role: role,
		Baseline: esc(t.Baseline), Canary: esc(t.Canary), Vars: vars}); err != nil {
		return "", gohere.Errorf(gohere.Invalid, "query template %s: %v", p.tmpl.Name(), err)
	}
	q := strings.TrimSpace(b.String())
	if q == "" {
		return "", gohere.Errorf(gohere.Invalid, "query template %s resolves to an empty query", p.tmpl.Name())
	}
	return q, nil
}

// noBaseline stands in for a missing baseline version while checking which
// queries need one.
const noBaseline = "\x00no-baseline\x00"

// check resolves every query for both sides, as Prepare does before an
// analysis is accepted: a missing variable, an empty query or a query that
// needs a baseline version the deploy lacks is an Invalid error. In
// concurrent mode the two sides must also differ: the same version on both,
// or a template that resolves to one query for both roles, would compare a
// series with itself and pass whatever the canary does.
func (c compiled) check(t Target, concurrent bool) error {
	var errs []error
	if concurrent && t.Baseline != "" && t.Baseline == t.Canary {
		errs = append(errs, gohere.Errorf(gohere.Invalid,
			"baseline and canary are the same version %s: concurrent mode cannot tell their series apart; give a different baseline or use mode before_after", t.Canary))
	}
	if t.Baseline == "" {
		t.Baseline = noBaseline
	}
	for _, mq := range c {
		for _, p := range mq.parts {
			var resolved []string
			for _, role := range []string{RoleBaseline, RoleCanary} {
				q, err := p.resolve(t, role)
				switch {
				case err != nil:
					errs = append(errs, err)
				case strings.Contains(q, noBaseline):
					errs = append(errs, gohere.Errorf(gohere.Invalid,
						"query template %s uses the baseline version, but the deploy has none: give the deploy a baseline", p.tmpl.Name()))
				}
				if err != nil || strings.Contains(q, noBaseline) {
					break // one message per template is enough
				}
				resolved = append(resolved, q)
			}
			if concurrent && len(resolved) == 2 && resolved[0] == resolved[1] && t.Baseline != t.Canary {
				errs = append(errs, gohere.Errorf(gohere.Invalid,
					"query template %s resolves to the same query for baseline and canary: select each side with {{.Version}} or {{.Role}}", p.tmpl.Name()))
			}
		}
	}
	return errors.Join(errs...)
}

// concurrent reports whether cfg tells the sides apart by their labels
// (the default) rather than by time.
func concurrent(cfg judge.Config) bool {
	return cfg.Analysis == nil || cfg.Analysis.Mode != judge.BeforeAfter
}

// fetched is one query's outcome.
type fetched struct {
	rec    Query
	step   time.Duration
	series []prom.Series
	err    error
	// summed: a rate metric's part that WidenRanges could not rewrite, so
	// its range points are added up.
	summed bool
}

// WidenRanges sets every range selector of a rate metric's part ([1m] in
// increase(x[1m])) to the whole window, so that the query evaluated once at
// the window's end counts exactly the window's events: adding up the points
// of a range query counts each event window/step times (or misses some),
// right only when the two are equal. ok is false when the query has no
// range selector (a recording rule) or a subquery ([30m:1m]) or a range
// that is not a plain duration, when it asks a per-second rate (rate,
// irate: widened, they would average, not count) and when it pins its
// evaluation time with @: its points are added up as before.
func WidenRanges(q string, window time.Duration) (string, bool) {
	var b strings.Builder
	widened := false
	word := 0 // where the identifier ending at i began
	for i := 0; i < len(q); i++ {
		c := q[i]
		if isIdent(c) {
			if i == 0 || !isIdent(q[i-1]) {
				word = i
			}
		} else if c == '(' || c == ' ' || c == '\t' || c == '\n' {
			if f := strings.ToLower(q[word:i]); i > word && isIdent(q[i-1]) && (f == "rate" || f == "irate") && strings.HasPrefix(strings.TrimLeft(q[i:], " \t\n"), "(") {
				return q, false
			}
		}
		switch c {
		case '@':
			return q, false
		case '"', '\'', '`':
			end := stringEnd(q, i)
			b.WriteString(q[i:end])
			i = end - 1
		case '#': // a comment, to the end of the line
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				end = len(q) - i
			}
			b.WriteString(q[i : i+end])
			i += end - 1
		case '[':
			end := strings.IndexByte(q[i:], ']')
			if end < 0 || !promDuration.MatchString(strings.TrimSpace(q[i+1:i+end])) {
				return q, false
			}
			b.WriteString("[" + formatRange(window) + "]")
			widened = true
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), widened
}

func isIdent(c byte) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// promDuration is PromQL's duration syntax: 1h30m, 90s, 500ms.
var promDuration = regexp.MustCompile(`^([0-9]+(ms|[smhdwy]))+$`)

// stringEnd is the index just after the PromQL string literal starting at
// q[i] (double- or single-quoted with backslash escapes, or raw in
// backticks), or len(q) when it does not end.
func stringEnd(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch {
		case q[j] == '\\' && quote != '`':
			j++
		case q[j] == quote:
			return j + 1
		}
	}
	return len(q)
}

// formatRange writes a window as a PromQL duration, in seconds when whole.
func formatRange(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// side keys one query of an interval.
type sideKey struct {
	metric int
	role   string
	part   int
}

// fetchAll runs every query of both sides, at most parallel at a time.
func (e *evaluator) fetchAll(ctx context.Context, qs compiled, t Target, canary, baseline Window) (map[sideKey]*fetched, error) {
	out := map[sideKey]*fetched{}
	for i, mq := range qs {
		for j, p := range mq.parts {
			for _, role := range roles {
				w := canary
				if role == RoleBaseline {
					w = baseline
				}
				q, err := p.resolve(t, role)
				if err != nil {
					return nil, fmt.Errorf("metric %q: %w", mq.metric.Name, err)
				}
				step := prom.Step(w.Start, w.End, e.step)
				f := &fetched{step: step, rec: Query{Metric: mq.metric.Name, Part: p.name, Role: role,
					Query: q, Start: w.Start, End: w.End, Step: step.String()}}
				if p.name != "" {
					// A rate metric's part counts events: one total over the
					// window, evaluated at its end.
					if wide, ok := WidenRanges(q, w.End.Sub(w.Start)); ok {
						f.rec.Query, f.rec.Start = wide, w.End
					} else {
						f.summed = true
					}
				}
				out[sideKey{i, role, j}] = f
			}
		}
	}
	sem := make(chan struct{}, e.parallel)
	var wg sync.WaitGroup
	for _, f := range out {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				f.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			e.fetch(ctx, f)
		})
	}
	wg.Wait()
	return out, nil
}

// fetch runs one query in its own span.
func (e *evaluator) fetch(ctx context.Context, f *fetched) {
	ctx, span := tracer.Start(ctx, "analysis.query", traceAttrs(
		attribute.String("gohere.metric", f.rec.Metric), attribute.String("gohere.role", f.rec.Role),
		attribute.String("gohere.query", f.rec.Query)))
	defer span.End()
	began := time.Now()
	f.series, f.err = e.source.QueryRange(ctx, f.rec.Query, f.rec.Start, f.rec.End, f.step)
	took := time.Since(began)
	f.rec.Seconds = took.Seconds()
	f.rec.Series = len(f.series)
	for _, s := range f.series {
		f.rec.Points += len(s.Points)
	}
	switch {
	case f.err != nil && gohere.KindOf(f.err) == gohere.Invalid:
		f.rec.Result = ResultInvalid
	case f.err != nil && prom.Retryable(f.err):
		f.rec.Result = ResultUnavailable
	case f.err != nil:
		f.rec.Result = ResultError
	case len(f.series) == 0:
		f.rec.Result = ResultEmpty
	default:
		f.rec.Result = ResultOK
	}
	if f.err != nil {
		f.rec.Error = f.err.Error()
		span.RecordError(f.err)
		span.SetStatus(codes.Error, f.rec.Result)
	}
	span.SetAttributes(attribute.String("gohere.result", f.rec.Result), attribute.Int("gohere.series", f.rec.Series))
	e.metrics.ObserveQuery(f.rec.Result, took)
}

// input is what the judge gets: the config with metrics split per label set
// where aggregate none met several series, the data of both sides, and why
// a metric has no data on a side.
type input struct {
	cfg                judge.Config
	baseline, canary   judge.Data
	reasons            map[string]string // metric name → why it has no data
	warnings           []string
	nBaseline, nCanary int
}

// assemble turns fetched series into the judge's input. A side's series
// become one sample set per metric: aggregated as configured, or with
// aggregate none (and several series) one result per label set, paired
// across the sides. A rate metric's series are added up to its counts.
func assemble(cfg judge.Config, qs compiled, agg judge.Aggregate, got map[sideKey]*fetched) input {
	in := input{cfg: cfg, baseline: judge.Data{}, canary: judge.Data{}, reasons: map[string]string{}}
	in.cfg.Metrics = nil
	for k, f := range got {
		if k.role == RoleBaseline {
			in.nBaseline += f.rec.Points
		} else {
			in.nCanary += f.rec.Points
		}
	}
	for i, mq := range qs {
		sides := map[string][]*fetched{} // role → the query, or numerator and denominator
		for _, role := range roles {
			for j := range mq.parts {
				sides[role] = append(sides[role], got[sideKey{i, role, j}])
			}
		}
		for _, f := range sides[RoleCanary] {
			if f.summed {
				in.warnings = append(in.warnings, fmt.Sprintf("metric %s: the %s %s has no plain range selector to widen to the window: its points are added up, which counts each event once only when its window equals the step %s",
					mq.metric.Name, f.rec.Part, f.rec.Query, f.step))
			}
		}
		if mq.metric.Rate() && len(sides[RoleBaseline][0].series) == 0 && len(sides[RoleCanary][0].series) == 0 &&
			(len(sides[RoleBaseline][1].series) > 0 || len(sides[RoleCanary][1].series) > 0) {
			// As an error counter that never fired would, and as a typo in
			// its name would: say so, as 0 of N passes.
			in.warnings = append(in.warnings, fmt.Sprintf("metric %s: the numerator %s returned no series on either side: counted as 0 events (a counter that appears with its first event); if this service does have such events, check the query",
				mq.metric.Name, sides[RoleCanary][0].rec.Query))
		}
		var names []string
		if agg == judge.AggregateNone {
			names = pairingLabels(sides)
		}
		if len(names) == 0 {
			in.cfg.Metrics = append(in.cfg.Metrics, mq.metric)
			for _, role := range roles {
				in.whole(mq.metric, role, sides[role], agg)
			}
			continue
		}
		in.pair(mq.metric, sides, names)
	}
	return in
}

// pairingLabels are the labels that tell apart the series of the value
// query (or denominator) of either side, and of the numerator where the
// denominator has them too: a numerator by code over a total denominator
// is added up, not split.
func pairingLabels(sides map[string][]*fetched) []string {
	keys, present := map[string]bool{}, map[string]bool{}
	for _, role := range roles {
		parts := sides[role]
		last := parts[len(parts)-1]
		maps.Copy(keys, varying(last.series))
		for _, s := range last.series {
			for k := range s.Labels {
				present[k] = true
			}
		}
	}
	for _, role := range roles {
		if parts := sides[role]; len(parts) > 1 {
			for k := range varying(parts[0].series) {
				keys[k] = keys[k] || present[k]
			}
		}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if keys[k] {
			out = append(out, k)
		}
	}
	return out
}

var roles = []string{RoleBaseline, RoleCanary}

func other(role string) string {
	if role == RoleBaseline {
		return RoleCanary
	}
	return RoleBaseline
}

func (in *input) data(role string) judge.Data {
	if role == RoleBaseline {
		return in.baseline
	}
	return in.canary
}

func (in *input) noSeries(metric, query string) {
	if _, ok := in.reasons[metric]; !ok {
		in.reasons[metric] = fmt.Sprintf("no series for %s", query)
	}
}

// whole makes one side of a metric of all its series. A rate metric's
// numerator without series counts no events when the denominator has some:
// error counters appear with the first error.
func (in *input) whole(m judge.Metric, role string, parts []*fetched, agg judge.Aggregate) {
	last := parts[len(parts)-1] // the value query, or the denominator
	if len(last.series) == 0 {
		in.noSeries(m.Name, last.rec.Query)
		return
	}
	if m.Rate() {
		in.data(role)[m.Name] = judge.Samples{Counts: &judge.Counts{Numerator: total(parts[0].series), Denominator: total(parts[1].series)}}
		return
	}
	in.data(role)[m.Name] = judge.Samples{Values: combine(agg, parts[0].series)}
}

// pair judges several series as separate results, one per set of the
// pairing labels (labels constant within each query, such as the version,
// are left out). A label set whose value query (or denominator) has a
// series on one side only is reported and has no data on the other. A rate
// metric's label set without numerator series counts no events (error
// counters appear with the first error).
func (in *input) pair(m judge.Metric, sides map[string][]*fetched, names []string) {
	sets := map[string]bool{}
	for _, role := range roles {
		parts := sides[role]
		for _, s := range parts[len(parts)-1].series {
			sets[labelSet(s.Labels, names)] = true
		}
	}
	for _, set := range slices.Sorted(maps.Keys(sets)) {
		sm := m
		sm.Name = m.Name + set
		in.cfg.Metrics = append(in.cfg.Metrics, sm)
		for _, role := range roles {
			parts := sides[role]
			with := make([][]prom.Series, len(parts))
			for j, f := range parts {
				for _, s := range f.series {
					if labelSet(s.Labels, names) == set {
						with[j] = append(with[j], s)
					}
				}
			}
			last := len(parts) - 1 // the value query, or the denominator
			switch {
			case len(with[last]) == 0 && len(parts[last].series) == 0:
				in.noSeries(sm.Name, parts[last].rec.Query)
			case len(with[last]) == 0:
				msg := fmt.Sprintf("no %s series with %s for %s to pair with the %s series", role, set, parts[last].rec.Query, other(role))
				if _, ok := in.reasons[sm.Name]; !ok {
					in.reasons[sm.Name] = msg
				}
				in.warnings = append(in.warnings, "metric "+m.Name+": "+msg)
			case m.Rate():
				in.data(role)[sm.Name] = judge.Samples{Counts: &judge.Counts{Numerator: total(with[0]), Denominator: total(with[1])}}
			default:
				in.data(role)[sm.Name] = judge.Samples{Values: values(with[0][0])}
			}
		}
	}
}

// varying returns the label names whose values differ among the series.
func varying(series []prom.Series) map[string]bool {
	out := map[string]bool{}
	if len(series) < 2 {
		return out
	}
	for _, s := range series {
		for k, v := range s.Labels {
			for _, o := range series {
				if o.Labels[k] != v {
					out[k] = true
					break
				}
			}
		}
	}
	return out
}

// labelSet renders the named labels PromQL-style: {a="1",b="2"}.
func labelSet(labels map[string]string, names []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", n, labels[n])
	}
	b.WriteByte('}')
	return b.String()
}

func values(s prom.Series) []float64 {
	out := make([]float64, len(s.Points))
	for i, p := range s.Points {
		out[i] = p.V
	}
	return out
}

// combine makes one series of several, point by point at each timestamp:
// sum, mean or max of the series present there (NaN stays NaN). With
// aggregate none there is one series.
func combine(agg judge.Aggregate, series []prom.Series) []float64 {
	if len(series) == 1 {
		return values(series[0])
	}
	type acc struct {
		v float64
		n int
	}
	at := map[int64]*acc{}
	for _, s := range series {
		for _, p := range s.Points {
			t := p.T.UnixNano()
			a, ok := at[t]
			switch {
			case !ok:
				at[t] = &acc{v: p.V, n: 1}
			case agg == judge.AggregateMax:
				a.v, a.n = math.Max(a.v, p.V), a.n+1
			default:
				a.v, a.n = a.v+p.V, a.n+1
			}
		}
	}
	out := make([]float64, 0, len(at))
	for _, t := range slices.Sorted(maps.Keys(at)) {
		a := at[t]
		if agg == judge.AggregateMean {
			a.v /= float64(a.n)
		}
		out = append(out, a.v)
	}
	return out
}

// total adds every finite point of every series: the count of a rate
// metric's part over the window.
func total(series []prom.Series) float64 {
	var sum float64
	for _, s := range series {
		for _, p := range s.Points {
			if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
				sum += p.V
			}
		}
	}
	return sum
}
