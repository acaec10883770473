package analysis

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gohere/gohere"
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
	Report          judge.Report
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
	res := Result{Canary: canary, Baseline: baseline}
	got, err := e.fetchAll(ctx, qs, t, canary, baseline)
	if err != nil {
		return res, err
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
	if err := firstError(list); err != nil {
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

	// The judge knows a metric had no data; only we know why.
	for i, m := range rep.Metrics {
		if why, ok := in.reasons[m.Name]; ok && m.Label != judge.LabelPass && m.Label != judge.LabelHigh && m.Label != judge.LabelLow {
			rep.Metrics[i].Reason = why
		}
	}
	rep.Warnings = append(rep.Warnings, in.warnings...)
	res.Report = rep
	return res, nil
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
// the config's offset. The warm-up and lookback of the config do not apply.
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
