package judge

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Mode selects the classification rule.
type Mode string

const (
	// ModeGohere gates on the adjusted p-value, the effect size and a
	// minimum relative shift, with R-exact statistics.
	ModeGohere Mode = "gohere"
	// ModeKayenta reproduces Kayenta's NetflixACAJudge-v1.0: a metric is
	// High (Low) when the confidence interval of the shift lies beyond
	// tolerance·|estimate| and the effect size passes; no p-value gate.
	// Two departures: a metric without data is never a Pass (Kayenta
	// passes it with nanStrategy replace), and two constant samples get
	// their exact shift instead of Kayenta's random jitter. Rate metrics,
	// which Kayenta lacks, take the gohere rule in both modes.
	ModeKayenta Mode = "kayenta"
)

// Adjust names the p-value adjustment across an analysis' metrics.
type Adjust string

const (
	AdjustHolm Adjust = "holm"
	AdjustBH   Adjust = "bh"
	AdjustNone Adjust = "none"
)

// Direction says which change of a metric is bad.
type Direction string

const (
	Increase Direction = "increase"
	Decrease Direction = "decrease"
	Either   Direction = "either"
)

func (d Direction) up() bool   { return d == Increase || d == Either }
func (d Direction) down() bool { return d == Decrease || d == Either }

// NaNStrategy says what happens to missing points (NaN, ±Inf).
type NaNStrategy string

const (
	NaNRemove  NaNStrategy = "remove"
	NaNReplace NaNStrategy = "replace" // with 0
)

// Outliers says what happens to points beyond the IQR fences.
type Outliers string

const (
	OutliersKeep   Outliers = "keep"
	OutliersRemove Outliers = "remove"
)

// Measure is the effect size a High or Low must reach.
type Measure string

const (
	// MeanRatio is canary mean / baseline mean (NaN when the baseline mean is 0).
	MeanRatio Measure = "mean_ratio"
	// CLES is the common-language effect size P(canary > baseline) + ½P(=).
	CLES Measure = "cles"
)

// Config is a canary config. LoadConfig fills every default, so a loaded
// Config marshals to JSON with every setting explicit and loads back the
// same. Pointer fields are the ones where zero is a meaningful setting.
type Config struct {
	Judge      Mode       `json:"judge,omitempty"`
	Thresholds Thresholds `json:"thresholds"`
	// Confidence is the level of the reported interval of every shift
	// (default 0.98).
	Confidence float64 `json:"confidence,omitempty"`
	// Tolerance is Kayenta's fraction of |estimate| the interval must clear
	// (default 0.25); metrics may override it.
	Tolerance *float64 `json:"tolerance,omitempty"`
	Alpha     float64  `json:"alpha,omitempty"`  // gohere mode: significance level (default 0.05)
	Adjust    Adjust   `json:"adjust,omitempty"` // holm (default), bh or none
	// MinShift is the smallest |estimate| / |baseline median| a High or Low
	// needs in gohere mode (default 0.02).
	MinShift *float64 `json:"min_shift,omitempty"`
	// Groups maps a group to its weight in the score; groups of the metrics
	// without a weight share what is left of 100 equally.
	Groups   map[string]float64 `json:"groups,omitempty"`
	Metrics  []Metric           `json:"metrics"`
	Analysis *Analysis          `json:"analysis,omitempty"`
}

// Thresholds turn the score into a verdict: Pass at or above Pass, Marginal
// at or above Marginal, Fail below.
type Thresholds struct {
	Pass     float64  `json:"pass,omitempty"`     // default 95
	Marginal *float64 `json:"marginal,omitempty"` // default 75
}

// Metric is one metric of a canary config. A value metric has a Query; a
// rate metric has Numerator and Denominator queries and is judged on their
// totals with a two-proportion test. Queries are kept as text: the analysis
// runner resolves them as Go templates.
type Metric struct {
	Name        string      `json:"name"`
	Query       string      `json:"query,omitempty"`
	Numerator   string      `json:"numerator,omitempty"`
	Denominator string      `json:"denominator,omitempty"`
	Groups      []string    `json:"groups,omitempty"` // default ["default"]
	Direction   Direction   `json:"direction,omitempty"`
	NaNStrategy NaNStrategy `json:"nan_strategy,omitempty"`
	Outliers    Outliers    `json:"outliers,omitempty"`
	// OutlierFactor scales the IQR fences of Outliers: remove (default 3).
	OutlierFactor float64    `json:"outlier_factor,omitempty"`
	EffectSize    EffectSize `json:"effect_size"`
	// Critical: a High or Low beyond the critical effect sizes, or no data,
	// fails the whole canary (score 0).
	Critical bool `json:"critical,omitempty"`
	// MustHaveData: missing data counts as a failure (NoDataFail).
	MustHaveData bool `json:"must_have_data,omitempty"`
	// Optional: the series may legitimately vanish, so no data here leaves
	// a passing verdict a Pass; without it, a metric without data inside a
	// judged group makes the verdict at most Marginal.
	Optional bool `json:"optional,omitempty"`
	// Muted: reported, never scored.
	Muted bool `json:"muted,omitempty"`
	// MinSamples per side below which the metric is NoData (for a rate
	// metric: the denominator total). Default 10 in gohere mode, 1 in
	// kayenta mode.
	MinSamples int `json:"min_samples,omitempty"`
	// Max and Min are absolute guardrails on the canary's mean (a rate
	// metric: its rate): beyond them the metric is High or Low whatever
	// the statistics say.
	Max       *float64 `json:"max,omitempty"`
	Min       *float64 `json:"min,omitempty"`
	Tolerance *float64 `json:"tolerance,omitempty"` // overrides Config.Tolerance
	// Unit is what the metric's values measure; pages print values,
	// shifts and axes with it. Empty: plain numbers.
	Unit Unit `json:"unit,omitempty"`
}

// Unit is the unit of a metric's values (for a rate metric: of its rate).
type Unit string

const (
	UnitSeconds      Unit = "seconds"
	UnitMilliseconds Unit = "milliseconds"
	UnitBytes        Unit = "bytes"
	UnitPercent      Unit = "percent" // 0–100
	UnitRatio        Unit = "ratio"   // 0–1, printed as a percentage
	UnitCount        Unit = "count"
	UnitPerSecond    Unit = "per_second"
)

// Units are the allowed values of Metric.Unit.
var Units = []Unit{UnitSeconds, UnitMilliseconds, UnitBytes, UnitPercent, UnitRatio, UnitCount, UnitPerSecond}

// Rate reports whether the metric is judged on counts.
func (m Metric) Rate() bool { return m.Numerator != "" || m.Denominator != "" }

// EffectSize is how large a change must be to count. Zero means the
// default: 1 for mean_ratio (any change), 0.5 for cles.
type EffectSize struct {
	Measure          Measure `json:"measure,omitempty"` // mean_ratio (default) or cles
	AllowedIncrease  float64 `json:"allowed_increase,omitempty"`
	AllowedDecrease  float64 `json:"allowed_decrease,omitempty"`
	CriticalIncrease float64 `json:"critical_increase,omitempty"`
	CriticalDecrease float64 `json:"critical_decrease,omitempty"`
}

// Analysis is the part of a canary config the analysis runner reads: how a
// live analysis is scheduled and queried. The judge only validates it.
type Analysis struct {
	Mode        AnalysisMode      `json:"mode,omitempty"` // concurrent (default), before_after or sequential
	Lifetime    Duration          `json:"lifetime,omitempty"`
	Interval    Duration          `json:"interval,omitempty"` // 0: one judgement at the end
	Warmup      Duration          `json:"warmup,omitempty"`
	Lookback    Duration          `json:"lookback,omitempty"` // 0: growing window
	Step        Duration          `json:"step,omitempty"`
	Offset      Duration          `json:"offset,omitempty"` // before_after only
	Vars        map[string]string `json:"vars,omitempty"`
	AutoPromote AutoPromote       `json:"auto_promote,omitempty"` // never (default) or on_pass
	AutoHalt    AutoHalt          `json:"auto_halt,omitempty"`    // never (default) or on_fail
	Aggregate   Aggregate         `json:"aggregate,omitempty"`    // none (default), sum, mean or max
	// EarlyPass (sequential only) ends the run with a Pass before its
	// lifetime once every metric's confidence sequence lies inside its
	// tolerance band.
	EarlyPass bool `json:"early_pass,omitempty"`
}

// AnalysisMode says how baseline and canary series are told apart.
type AnalysisMode string

const (
	Concurrent  AnalysisMode = "concurrent"
	BeforeAfter AnalysisMode = "before_after"
	// Sequential compares the sides like Concurrent, but judges each look
	// on all data since the canary started with anytime-valid tests, so
	// stopping early keeps the error rate (judge.Sequential).
	Sequential AnalysisMode = "sequential"
)

// AutoPromote says when a passing analysis needs no human.
type AutoPromote string

const (
	PromoteNever  AutoPromote = "never"
	PromoteOnPass AutoPromote = "on_pass"
)

// AutoHalt says when a failing analysis halts the deploy without waiting
// for a human.
type AutoHalt string

const (
	HaltNever  AutoHalt = "never"
	HaltOnFail AutoHalt = "on_fail"
)

// Aggregate says how several series of one side become one.
type Aggregate string

const (
	AggregateNone Aggregate = "none"
	AggregateSum  Aggregate = "sum"
	AggregateMean Aggregate = "mean"
	AggregateMax  Aggregate = "max"
)

// Duration is a time.Duration written as "5m" in configs.
type Duration time.Duration

// UnmarshalText accepts Go duration syntax ("90s", "1h30m", "0").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want Go syntax such as 30s, 5m or 1h", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Defaults of a canary config.
const (
	DefaultPass          = 95.0
	DefaultMarginal      = 75.0
	DefaultConfidence    = 0.98
	DefaultTolerance     = 0.25
	DefaultAlpha         = 0.05
	DefaultMinShift      = 0.02
	DefaultOutlierFactor = 3.0
	DefaultMinSamples    = 10 // gohere mode; kayenta mode: 1
	DefaultGroup         = "default"
	// WarnSamples: fewer samples per side than this earn a warning.
	WarnSamples = 50
)

// WithDefaults returns c with every unset setting filled. It is idempotent
// and does not modify c's slices or maps.
func (c Config) WithDefaults() Config {
	if c.Judge == "" {
		c.Judge = ModeGohere
	}
	if c.Thresholds.Pass == 0 {
		c.Thresholds.Pass = DefaultPass
	}
	c.Thresholds.Marginal = orDefault(c.Thresholds.Marginal, DefaultMarginal)
	if c.Confidence == 0 {
		c.Confidence = DefaultConfidence
	}
	c.Tolerance = orDefault(c.Tolerance, DefaultTolerance)
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.Adjust == "" {
		c.Adjust = AdjustHolm
	}
	c.MinShift = orDefault(c.MinShift, DefaultMinShift)
	if len(c.Groups) == 0 {
		c.Groups = nil // as JSON omits it
	}
	c.Metrics = slices.Clone(c.Metrics)
	for i := range c.Metrics {
		c.Metrics[i] = c.Metrics[i].withDefaults(c)
	}
	if c.Analysis != nil {
		a := *c.Analysis
		if a.Mode == "" {
			a.Mode = Concurrent
		}
		if a.AutoPromote == "" {
			a.AutoPromote = PromoteNever
		}
		if a.AutoHalt == "" {
			a.AutoHalt = HaltNever
		}
		if a.Aggregate == "" {
			a.Aggregate = AggregateNone
		}
		if len(a.Vars) == 0 {
			a.Vars = nil
		}
		c.Analysis = &a
	}
	return c
}

// withDefaults fills a metric's defaults; Tolerance stays nil when the
// config's applies.
func (m Metric) withDefaults(c Config) Metric {
	if len(m.Groups) == 0 {
		m.Groups = []string{DefaultGroup}
	}
	if m.Direction == "" {
		m.Direction = Either
	}
	if m.NaNStrategy == "" {
		m.NaNStrategy = NaNRemove
	}
	if m.Outliers == "" {
		m.Outliers = OutliersKeep
	}
	if m.OutlierFactor == 0 {
		m.OutlierFactor = DefaultOutlierFactor
	}
	e := &m.EffectSize
	if e.Measure == "" {
		e.Measure = MeanRatio
	}
	neutral := 1.0
	if e.Measure == CLES {
		neutral = 0.5
	}
	for _, v := range []*float64{&e.AllowedIncrease, &e.AllowedDecrease, &e.CriticalIncrease, &e.CriticalDecrease} {
		if *v == 0 {
			*v = neutral
		}
	}
	if m.MinSamples == 0 {
		m.MinSamples = DefaultMinSamples
		if c.Judge == ModeKayenta {
			m.MinSamples = 1
		}
	}
	return m
}

func orDefault(p *float64, v float64) *float64 {
	if p != nil {
		return p
	}
	return &v
}

// Validate checks a config after defaults (it applies them to a copy
// first) and returns every problem at once, joined, each an Invalid error
// naming the setting.
func (c Config) Validate() error {
	return joinProblems(c.WithDefaults().problems(), nil)
}

// problem is one validation finding; path uses goccy/go-yaml's syntax
// without the leading "$." so LoadConfig can find its line.
type problem struct {
	path string
	msg  string
}

func (c Config) problems() []problem {
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, fmt.Sprintf(format, args...)})
	}
	oneOf(add, "judge", string(c.Judge), ModeGohere, ModeKayenta)
	oneOf(add, "adjust", string(c.Adjust), AdjustHolm, AdjustBH, AdjustNone)
	marginal := *c.Thresholds.Marginal
	switch {
	case !(c.Thresholds.Pass > 0 && c.Thresholds.Pass <= 100):
		add("thresholds.pass", "%v: want a number in (0, 100]", c.Thresholds.Pass)
	case !(marginal >= 0 && marginal <= 100):
		add("thresholds.marginal", "%v: want a number in [0, 100]", marginal)
	case marginal > c.Thresholds.Pass:
		add("thresholds", "pass %v is below marginal %v", c.Thresholds.Pass, marginal)
	}
	openUnit(add, "confidence", c.Confidence)
	openUnit(add, "alpha", c.Alpha)
	nonNegative(add, "tolerance", *c.Tolerance)
	nonNegative(add, "min_shift", *c.MinShift)
	if len(c.Metrics) == 0 {
		add("metrics", "at least one metric is required")
	}
	used := map[string]bool{}
	seen := map[string]int{}
	for i, m := range c.Metrics {
		at := fmt.Sprintf("metrics[%d]", i)
		if j, dup := seen[m.Name]; dup && m.Name != "" {
			add(at+".name", "%q is also the name of metrics[%d]", m.Name, j)
		}
		seen[m.Name] = i
		for _, g := range m.Groups {
			used[g] = true
		}
		ps = append(ps, m.problems(at, c.varNames())...)
	}
	ps = append(ps, c.strayGroups(used)...)
	var sum float64
	for _, g := range slices.Sorted(maps.Keys(c.Groups)) {
		w := c.Groups[g]
		if !(w >= 0 && w <= 100) {
			add("groups."+g, "weight %v: want a number in [0, 100]", w)
		}
		if !used[g] {
			add("groups."+g, "unknown group %q: no metric belongs to it", g)
		}
		sum += w
	}
	if sum > 100 {
		add("groups", "weights sum to %v, over 100", sum)
	} else if len(c.Groups) > 0 && sum < 100 && allWeighted(used, c.Groups) {
		add("groups", "weights sum to %v; with every group weighted they must sum to 100", sum)
	}
	if c.Analysis != nil {
		ps = append(ps, c.Analysis.problems("analysis")...)
		if c.Analysis.Mode == Sequential && c.Judge == ModeKayenta {
			add("analysis.mode", "sequential needs judge gohere: Kayenta's tolerance is a share of each interval's estimate, not a fixed band a confidence sequence can be held to")
		}
	}
	return ps
}

// strayGroups reports the groups of metrics that have no weight while a
// weighted group has no metric: a typo such as groups: [latncy], which the
// weighted group's own problem ("no metric belongs to latency") does not
// name.
func (c Config) strayGroups(used map[string]bool) []problem {
	var orphans []string
	for _, g := range slices.Sorted(maps.Keys(c.Groups)) {
		if !used[g] {
			orphans = append(orphans, strconv.Quote(g))
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	var ps []problem
	for i, m := range c.Metrics {
		for j, g := range m.Groups {
			if _, weighted := c.Groups[g]; !weighted && g != "" && g != DefaultGroup {
				ps = append(ps, problem{fmt.Sprintf("metrics[%d].groups[%d]", i, j),
					fmt.Sprintf("unknown group %q: groups gives it no weight, and %s has no metric; a typo?", g, strings.Join(orphans, ", "))})
			}
		}
	}
	return ps
}

func allWeighted(used map[string]bool, weights map[string]float64) bool {
	for g := range used {
		if _, ok := weights[g]; !ok {
			return false
		}
	}
	return true
}

func (m Metric) problems(at string, vars []string) []problem {
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, fmt.Sprintf(format, args...)})
	}
	if m.Name == "" {
		add(at+".name", "a name is required")
	} else if strings.ContainsFunc(m.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		add(at+".name", "%q: control characters are not allowed", m.Name)
	}
	switch {
	case m.Rate() && m.Query != "":
		add(at+".query", "a rate metric has numerator and denominator instead of a query")
	case m.Rate() && (m.Numerator == "" || m.Denominator == ""):
		add(at, "a rate metric needs both numerator and denominator")
	case !m.Rate() && m.Query == "":
		add(at+".query", "a query is required (or numerator and denominator for a rate metric)")
	}
	for _, q := range []struct{ field, text string }{
		{"query", m.Query}, {"numerator", m.Numerator}, {"denominator", m.Denominator},
	} {
		if q.text == "" {
			continue
		}
		if err := checkTemplate(q.field, q.text, vars); err != nil {
			add(at+"."+q.field, "%v", err)
		}
	}
	for j, g := range m.Groups {
		if g == "" {
			add(fmt.Sprintf("%s.groups[%d]", at, j), "a group name is required")
		}
	}
	oneOf(add, at+".direction", string(m.Direction), Increase, Decrease, Either)
	oneOf(add, at+".nan_strategy", string(m.NaNStrategy), NaNRemove, NaNReplace)
	oneOf(add, at+".outliers", string(m.Outliers), OutliersKeep, OutliersRemove)
	if !(m.OutlierFactor > 0) || math.IsInf(m.OutlierFactor, 0) {
		add(at+".outlier_factor", "%v: want a number > 0", m.OutlierFactor)
	}
	e := m.EffectSize
	oneOf(add, at+".effect_size.measure", string(e.Measure), MeanRatio, CLES)
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"allowed_increase", e.AllowedIncrease}, {"allowed_decrease", e.AllowedDecrease},
		{"critical_increase", e.CriticalIncrease}, {"critical_decrease", e.CriticalDecrease},
	} {
		switch {
		case e.Measure == CLES && !(f.v >= 0 && f.v <= 1):
			add(at+".effect_size."+f.name, "%v: a cles effect size is a probability in [0, 1]", f.v)
		case !(f.v >= 0) || math.IsInf(f.v, 0):
			add(at+".effect_size."+f.name, "%v: want a finite number >= 0", f.v)
		}
	}
	if m.Rate() && e.Measure == CLES {
		add(at+".effect_size.measure", "cles needs samples; a rate metric is judged on counts: use mean_ratio")
	}
	if m.MinSamples < 1 {
		add(at+".min_samples", "%d: want at least 1", m.MinSamples)
	}
	for _, g := range []struct {
		name string
		v    *float64
	}{{"max", m.Max}, {"min", m.Min}} {
		if g.v != nil && (math.IsNaN(*g.v) || math.IsInf(*g.v, 0)) {
			add(at+"."+g.name, "%v: want a finite number", *g.v)
		}
	}
	if m.Max != nil && m.Min != nil && *m.Min > *m.Max {
		add(at, "guardrail min %v is above max %v", *m.Min, *m.Max)
	}
	if m.Tolerance != nil {
		nonNegative(add, at+".tolerance", *m.Tolerance)
	}
	if m.Muted && m.Critical {
		add(at, "a muted metric cannot be critical")
	}
	if m.Unit != "" { // no unit: plain numbers
		oneOf(add, at+".unit", string(m.Unit), Units...)
	}
	if m.Optional && (m.Critical || m.MustHaveData) {
		add(at+".optional", "an optional metric may have no data: it cannot be critical or must_have_data")
	}
	return ps
}

func (a Analysis) problems(at string) []problem {
	var ps []problem
	add := func(path, format string, args ...any) {
		ps = append(ps, problem{path, fmt.Sprintf(format, args...)})
	}
	oneOf(add, at+".mode", string(a.Mode), Concurrent, BeforeAfter, Sequential)
	oneOf(add, at+".auto_promote", string(a.AutoPromote), PromoteNever, PromoteOnPass)
	oneOf(add, at+".auto_halt", string(a.AutoHalt), HaltNever, HaltOnFail)
	oneOf(add, at+".aggregate", string(a.Aggregate), AggregateNone, AggregateSum, AggregateMean, AggregateMax)
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"lifetime", a.Lifetime}, {"interval", a.Interval}, {"warmup", a.Warmup},
		{"lookback", a.Lookback}, {"step", a.Step}, {"offset", a.Offset},
	} {
		if d.v < 0 {
			add(at+"."+d.name, "%v: want a duration >= 0", time.Duration(d.v))
		}
	}
	if a.Lifetime > 0 {
		if a.Interval > a.Lifetime {
			add(at+".interval", "%v is longer than the lifetime %v", time.Duration(a.Interval), time.Duration(a.Lifetime))
		}
		if a.Warmup >= a.Lifetime {
			add(at+".warmup", "%v leaves nothing of the lifetime %v to judge", time.Duration(a.Warmup), time.Duration(a.Lifetime))
		}
	}
	switch {
	case a.Mode == BeforeAfter && a.Offset <= 0:
		add(at+".offset", "before_after needs an offset > 0: how far back the baseline window lies")
	case a.Mode != BeforeAfter && a.Offset != 0:
		add(at+".offset", "an offset applies to before_after only")
	}
	if a.Mode == Sequential && a.Lookback != 0 {
		add(at+".lookback", "sequential mode judges all data since the canary started: remove the lookback")
	}
	if a.EarlyPass && a.Mode != Sequential {
		add(at+".early_pass", "early_pass needs mode sequential: only anytime-valid confidence sequences may pass a run early")
	}
	for k := range a.Vars {
		if k == "" {
			add(at+".vars", "a variable needs a name")
		}
	}
	return ps
}

func oneOf[T ~string](add func(string, string, ...any), path, v string, allowed ...T) {
	if slices.Contains(allowed, T(v)) {
		return
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	add(path, "%q: want one of %s", v, strings.Join(names, ", "))
}

func openUnit(add func(string, string, ...any), path string, v float64) {
	if !(v > 0 && v < 1) {
		add(path, "%v: want a number in (0, 1)", v)
	}
}

func nonNegative(add func(string, string, ...any), path string, v float64) {
	if !(v >= 0) || math.IsInf(v, 0) {
		add(path, "%v: want a finite number >= 0", v)
	}
}
