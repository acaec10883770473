package analysis

import (
	"time"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/judge"
)

// Window is a closed time range [Start, End] of one side's series.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Limits of a schedule.
const (
	// MaxIntervals bounds the judgements of one analysis.
	MaxIntervals = 1000
	// DefaultStep is the resolution of the series when the config gives
	// none; prom.Step makes it coarser for windows too long for it.
	DefaultStep = 30 * time.Second
)

// plan is the schedule of one analysis. Interval k (from 1) is due at
//
//	due(k) = min(start + warmup + k·interval, end)
//
// and judges the canary window [start+warmup, due(k)] (growing) or its
// last lookback (sliding); nothing before start+warmup is ever judged. In
// before_after mode the baseline window is the canary window shifted back
// by offset; in concurrent and sequential mode it is the same window.
// Sequential mode has no lookback (judge.Config validates it): every look
// judges all data since start+warmup.
type plan struct {
	start, end                 time.Time
	warmup, interval, lookback time.Duration
	offset, step               time.Duration
	mode                       judge.AnalysisMode
	n                          int // intervals
	aggregate                  judge.Aggregate
	autoPromote                judge.AutoPromote
	autoHalt                   judge.AutoHalt
	marginal                   float64
	earlyPass                  bool // sequential: a look whose tests fit every band ends the run
	// holdEarlyFail: this look's Fail does not end the run early (a
	// sequential look whose tests rejected nothing); set per look.
	holdEarlyFail bool
}

// newPlan schedules cfg (loaded, so with defaults) between start and end.
func newPlan(cfg judge.Config, start, end time.Time) (plan, error) {
	cfg = cfg.WithDefaults()
	a := judge.Analysis{Mode: judge.Concurrent, AutoPromote: judge.PromoteNever, AutoHalt: judge.HaltNever, Aggregate: judge.AggregateNone}
	if cfg.Analysis != nil {
		a = *cfg.Analysis
	}
	p := plan{
		start: start, end: end,
		warmup: time.Duration(a.Warmup), interval: time.Duration(a.Interval), lookback: time.Duration(a.Lookback),
		offset: time.Duration(a.Offset), step: time.Duration(a.Step),
		mode: a.Mode, aggregate: a.Aggregate, autoPromote: a.AutoPromote, autoHalt: a.AutoHalt,
		earlyPass: a.EarlyPass,
	}
	p.marginal = *cfg.Thresholds.Marginal
	judged := end.Sub(start) - p.warmup
	if judged <= 0 {
		return plan{}, gohere.Errorf(gohere.Invalid, "analysis: the warm-up %s leaves nothing of %s to %s to judge",
			p.warmup, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	}
	if p.interval <= 0 || p.interval > judged {
		p.interval = judged
	}
	n := judged / p.interval
	if judged%p.interval != 0 {
		n++
	}
	if n > MaxIntervals {
		return plan{}, gohere.Errorf(gohere.Invalid, "analysis: %d intervals of %s; at most %d", n, p.interval, MaxIntervals)
	}
	p.n = int(n)
	if p.step <= 0 {
		p.step = DefaultStep
	}
	return p, nil
}

// due is when interval seq (from 1) can be judged: its window has ended.
func (p plan) due(seq int) time.Time {
	return minTime(p.start.Add(p.warmup+time.Duration(seq)*p.interval), p.end)
}

// deadline is how long interval seq may be retried: until the next one is
// due, the last one for one interval's length.
func (p plan) deadline(seq int) time.Time {
	if seq < p.n {
		return p.due(seq + 1)
	}
	return p.due(seq).Add(p.interval)
}

// windows returns the canary and baseline windows of interval seq.
func (p plan) windows(seq int) (canary, baseline Window) {
	end := p.due(seq)
	start := p.start.Add(p.warmup)
	if p.lookback > 0 {
		start = maxTime(start, end.Add(-p.lookback))
	}
	canary = Window{Start: start, End: end}
	baseline = canary
	if p.mode == judge.BeforeAfter {
		baseline = Window{Start: start.Add(-p.offset), End: end.Add(-p.offset)}
	}
	return canary, baseline
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
