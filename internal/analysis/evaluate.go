package analysis

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/prom"
	"github.com/gohere/gohere/judge"
)

var tracer = otel.Tracer("github.com/gohere/gohere/internal/analysis")

func traceAttrs(attrs ...attribute.KeyValue) trace.SpanStartOption {
	return trace.WithAttributes(attrs...)
}

// JudgeFunc judges one interval's data (judge.Judge).
type JudgeFunc func(cfg judge.Config, baseline, canary judge.Data) judge.Report

// Metrics receives the runner's own measurements (internal/telemetry):
// gohere_analysis_intervals_total{verdict}, gohere_judge_duration_seconds,
// gohere_metric_queries_total{result} and
// gohere_metric_query_duration_seconds.
type Metrics interface {
	ObserveInterval(verdict string)
	ObserveJudge(d time.Duration)
	ObserveQuery(result string, d time.Duration)
}

type noMetrics struct{}

func (noMetrics) ObserveInterval(string)             {}
func (noMetrics) ObserveJudge(time.Duration)         {}
func (noMetrics) ObserveQuery(string, time.Duration) {}

// Result is one judged window: the judge's report and the evidence behind it.
type Result struct {
	Report judge.Report
	// Sequential is the anytime-valid tests' evidence over every look so
	// far (analysis mode sequential only).
	Sequential      *judge.SequentialEvidence
	Canary          Window
	Baseline        Window
	Queries         []Query
	BaselineSamples int // points returned for the baseline side
	CanarySamples   int
}

// evaluator queries both sides of a window and judges them.
type evaluator struct {
	source   Source
	judge    JudgeFunc
	metrics  Metrics
	parallel int
	step     time.Duration // wanted; prom.Step coarsens it for long windows
}

// DefaultParallel is how many queries of one interval run at a time.
const DefaultParallel = 8

// evaluate queries every metric of cfg for both windows and judges the
// result. A query the store rejects is an Invalid error; a store that
// fails otherwise is an error of another kind (retry later). No series is
// not an error: the metric is NoData with the reason.
func (e *evaluator) evaluate(ctx context.Context, cfg judge.Config, qs compiled, agg judge.Aggregate, t Target, canary, baseline Window) (Result, error) {
	res, got, err := e.collect(ctx, qs, t, canary, baseline, nil)
	if err != nil {
		return res, err
	}
	in := assemble(cfg, qs, agg, got)
	res.BaselineSamples, res.CanarySamples = in.nBaseline, in.nCanary

	_, span := tracer.Start(ctx, "analysis.judge", traceAttrs(attribute.Int("gohere.metrics", len(in.cfg.Metrics))))
	began := time.Now()
	rep := e.judge(in.cfg, in.baseline, in.canary)
	e.metrics.ObserveJudge(time.Since(began))
	span.SetAttributes(attribute.String("gohere.verdict", string(rep.Verdict)), attribute.Float64("gohere.score", rep.Score))
	span.End()
	res.Report = in.explain(rep)
	return res, nil
}

// evaluateSequential judges look seq of a sequential analysis: it queries
// all data since the canary started once, cuts it at the end of every look
// so far and runs the anytime-valid tests over those looks
// (judge.JudgeSequential). Replaying the looks from the data, instead of
// keeping the tests' state between looks, keeps the runner stateless: any
// replica can judge the next look, and a look judged again gives the same
// answer. The evaluator's JudgeFunc does not apply: the looks are judged
// together.
func (e *evaluator) evaluateSequential(ctx context.Context, cfg judge.Config, qs compiled, agg judge.Aggregate, t Target, p plan, seq int) (Result, error) {
	canary, baseline := p.windows(seq)
	// Sequential mode is concurrent: both sides share the canary window.
	res, got, err := e.collect(ctx, qs, t, canary, baseline, func(ctx context.Context, got map[sideKey]*fetched) {
		e.countPerLook(ctx, got, canary, p.interval)
	})
	if err != nil {
		return res, err
	}
	looks := make([]judge.SequentialLook, 0, seq)
	var in input
	for j := 1; j <= seq; j++ {
		at := p.due(j)
		in = assemble(cfg, qs, agg, cut(got, at))
		looks = append(looks, judge.SequentialLook{At: at, Baseline: in.baseline, Canary: in.canary})
	}
	res.BaselineSamples, res.CanarySamples = in.nBaseline, in.nCanary

	_, span := tracer.Start(ctx, "analysis.judge", traceAttrs(attribute.Int("gohere.metrics", len(in.cfg.Metrics)), attribute.Int("gohere.looks", seq)))
	began := time.Now()
	// The last look's config: a metric split per label set has every set
	// seen so far (the window only grows).
	rep, ev := judge.JudgeSequential(in.cfg, looks)
	e.metrics.ObserveJudge(time.Since(began))
	span.SetAttributes(attribute.String("gohere.verdict", string(rep.Verdict)), attribute.Float64("gohere.score", rep.Score))
	span.End()
	res.Report, res.Sequential = in.explain(rep), &ev
	return res, nil
}

// countPerLook queries a rate metric's parts again as events per look:
// one total over the whole window (how fetchAll counts a window's events)
// says nothing about the looks inside it. Each range selector becomes the
// look interval, so that the range query's points, one per look end, tile
// the window: (start, start+interval], ..., and the points up to a look add
// up to the events until then. Tiles as long as a look, not as the query
// step, hold enough scrapes for Prometheus' increase() (which needs two
// samples in its range; VictoriaMetrics also uses the one before). A last
// look cut short by the lifetime is counted up to the previous look end.
// It replaces the whole-window queries (one more query per part and look).
// A part whose ranges cannot be rewritten is kept: its points are added up
// as they are.
func (e *evaluator) countPerLook(ctx context.Context, got map[sideKey]*fetched, w Window, interval time.Duration) {
	sem := make(chan struct{}, e.parallel)
	var wg sync.WaitGroup
	for k, f := range got {
		if f.rec.Part == "" || f.summed || f.err != nil {
			continue
		}
		q, ok := WidenRanges(f.rec.Query, interval)
		if !ok {
			continue
		}
		g := &fetched{step: interval, rec: f.rec}
		g.rec.Query, g.rec.Start, g.rec.Step = q, w.Start.Add(interval), interval.String()
		got[k] = g
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			e.fetch(ctx, g)
		})
	}
	wg.Wait()
}

// cut returns the fetched series with only the points up to at.
func cut(got map[sideKey]*fetched, at time.Time) map[sideKey]*fetched {
	out := make(map[sideKey]*fetched, len(got))
	for k, f := range got {
		c := *f
		c.rec.End = minTime(f.rec.End, at)
		c.series = make([]prom.Series, 0, len(f.series))
		for _, s := range f.series {
			n, _ := slices.BinarySearchFunc(s.Points, at, func(p prom.Point, at time.Time) int {
				if p.T.After(at) {
					return 1
				}
				return -1
			})
			if n > 0 {
				c.series = append(c.series, prom.Series{Labels: s.Labels, Points: s.Points[:n]})
			}
		}
		out[k] = &c
	}
	return out
}

// collect runs every query of both windows (then again, with then, any it
// replaces) and records them in a Result in a stable order, with the error
// that decides the interval if any.
func (e *evaluator) collect(ctx context.Context, qs compiled, t Target, canary, baseline Window,
	then func(context.Context, map[sideKey]*fetched)) (Result, map[sideKey]*fetched, error) {
	res := Result{Canary: canary, Baseline: baseline}
	got, err := e.fetchAll(ctx, qs, t, canary, baseline)
	if err != nil {
		return res, nil, err
	}
	if then != nil {
		then(ctx, got)
	}
	list := slices.Collect(maps.Values(got))
	slices.SortFunc(list, func(a, b *fetched) int {
		return cmp.Or(
			cmp.Compare(indexOf(qs, a.rec.Metric), indexOf(qs, b.rec.Metric)),
			strings.Compare(b.rec.Part, a.rec.Part), // numerator first
			strings.Compare(a.rec.Role, b.rec.Role), // baseline first
		)
	})
	for _, f := range list {
		res.Queries = append(res.Queries, f.rec)
	}
	return res, got, firstError(list)
}

// explain adds to the judge's report what only the runner knows: why a
// metric had no data, and the warnings of assembling the data.
func (in *input) explain(rep judge.Report) judge.Report {
	for i, m := range rep.Metrics {
		if why, ok := in.reasons[m.Name]; ok && m.Label != judge.LabelPass && m.Label != judge.LabelHigh && m.Label != judge.LabelLow {
			rep.Metrics[i].Reason = why
		}
	}
	rep.Warnings = append(rep.Warnings, in.warnings...)
	return rep
}

// firstError picks the error that decides the interval: a rejected query
// first (retrying cannot help), else the first other failure.
func firstError(list []*fetched) error {
	var other error
	for _, f := range list {
		if f.err == nil {
			continue
		}
		err := fmt.Errorf("metric %q, %s: %w", f.rec.Metric, f.rec.Role, f.err)
		if gohere.KindOf(f.err) == gohere.Invalid {
			return err
		}
		if other == nil {
			other = err
		}
	}
	return other
}

func indexOf(qs compiled, metric string) int {
	return slices.IndexFunc(qs, func(mq metricQueries) bool { return mq.metric.Name == metric })
}

// JudgeWindow judges one window at once, without a store or a schedule:
// the offline `gohere judge --source` command. The canary window is
// [from, to]; in before_after mode the baseline window is shifted back by
// the config's offset. The warm-up and lookback of the config do not apply,
// and a sequential config's window is judged once by the interval judge: one
// look has no repeated testing to guard against.
// judgeFn nil means judge.Judge.
func JudgeWindow(ctx context.Context, src Source, judgeFn JudgeFunc, cfg judge.Config, t Target, from, to time.Time) (Result, error) {
	if !to.After(from) {
		return Result{}, gohere.Errorf(gohere.Invalid, "window: end %s must come after start %s",
			to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	once := cfg
	if cfg.Analysis != nil {
		a := *cfg.Analysis
		a.Warmup, a.Interval, a.Lookback = 0, 0, 0
		once.Analysis = &a
	}
	p, err := newPlan(once, from, to)
	if err != nil {
		return Result{}, err
	}
	qs, err := compile(cfg)
	if err != nil {
		return Result{}, err
	}
	if cfg.Analysis != nil && t.Vars == nil {
		t.Vars = cfg.Analysis.Vars
	}
	if err := qs.check(t, concurrent(cfg)); err != nil {
		return Result{}, err
	}
	canary, baseline := p.windows(1)
	e := &evaluator{source: src, judge: judgeFn, metrics: noMetrics{}, parallel: DefaultParallel, step: p.step}
	if e.judge == nil {
		e.judge = judge.Judge
	}
	return e.evaluate(ctx, cfg, qs, p.aggregate, t, canary, baseline)
}
