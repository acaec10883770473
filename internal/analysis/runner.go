package analysis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

// Store is where runs and their intervals are kept (*store.DB).
type Store interface {
	ClaimDueAnalysis(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.Analysis, bool, error)
	RecordInterval(ctx context.Context, l store.Lease, iv store.Interval, p store.Progress) error
	ReleaseAnalysis(ctx context.Context, l store.Lease, now, next time.Time, lastErr string) error
}

// Options configure a Runner. Store, Source and Owner are required; the
// rest have safe defaults.
type Options struct {
	Store  Store
	Source Source
	// Owner names this replica in leases and in each interval's judged_by;
	// unique per running process (e.g. hostname + pid).
	Owner   string
	Judge   JudgeFunc        // default judge.Judge
	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default slog.Default()
	Metrics Metrics          // default none
	// Workers judge that many analyses at a time (default 4).
	Workers int
	// Lease is how long a claimed run stays this runner's (default 1m); a
	// replica that dies mid-interval delays the run by at most this. One
	// interval's queries get half of it.
	Lease time.Duration
	// Poll is how often an idle worker looks for due runs (default 1s).
	Poll time.Duration
	// Backoff is the first wait after the metric store failed (default
	// 5s); it doubles up to MaxBackoff (default 1m).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MinTries: an interval whose metric store keeps failing is given up as
	// NoData once its retry deadline (the next interval's due time) has
	// passed and it was tried at least this often (default 3).
	MinTries int
	// Parallel queries per interval (default DefaultParallel).
	Parallel int
}

func (o *Options) validate() error {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("a store is required"))
	}
	if o.Source == nil {
		errs = append(errs, errors.New("a metric source is required"))
	}
	if strings.TrimSpace(o.Owner) == "" {
		errs = append(errs, errors.New("an owner (replica id) is required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"lease", o.Lease}, {"poll", o.Poll}, {"backoff", o.Backoff}, {"max backoff", o.MaxBackoff}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s must not be negative", d.name, d.v))
		}
	}
	if o.Workers < 0 || o.MinTries < 0 || o.Parallel < 0 {
		errs = append(errs, errors.New("workers, min tries and parallel must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return gohere.Errorf(gohere.Invalid, "analysis runner: %w", err)
	}
	if o.Judge == nil {
		o.Judge = judge.Judge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	o.Workers = cmp.Or(o.Workers, 4)
	o.Lease = cmp.Or(o.Lease, time.Minute)
	o.Poll = cmp.Or(o.Poll, time.Second)
	o.Backoff = cmp.Or(o.Backoff, 5*time.Second)
	o.MaxBackoff = max(cmp.Or(o.MaxBackoff, time.Minute), o.Backoff)
	o.MinTries = cmp.Or(o.MinTries, 3)
	o.Parallel = cmp.Or(o.Parallel, DefaultParallel)
	return nil
}

// Runner judges the due intervals of the analyses in its store. Run it on
// every replica; the store's leases share the work.
type Runner struct {
	o    Options
	wake chan struct{}
}

// NewRunner checks o and applies its defaults.
func NewRunner(o Options) (*Runner, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Runner{o: o, wake: make(chan struct{}, 1)}, nil
}

// Notify makes an idle worker look for due runs now, e.g. after an
// analysis was created. It never blocks.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run judges due intervals until ctx ends, then returns nil. A run being
// judged when ctx ends is left to its lease: it becomes due again once the
// lease ends, here or on another replica.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Go(func() { r.work(ctx) })
	}
	wg.Wait()
	return nil
}

func (r *Runner) work(ctx context.Context) {
	idle := time.NewTimer(0)
	defer idle.Stop()
	for {
		worked, err := r.step(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.o.Logger.ErrorContext(ctx, "analysis runner", "owner", r.o.Owner, "error", err)
		}
		if worked {
			continue
		}
		idle.Reset(r.o.Poll)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-idle.C:
		}
	}
}

// step claims one due run and moves it on by one interval, or reports that
// nothing was due.
func (r *Runner) step(ctx context.Context) (worked bool, err error) {
	a, found, err := r.o.Store.ClaimDueAnalysis(ctx, r.o.Owner, r.o.Now(), r.o.Lease)
	if err != nil || !found {
		return false, err
	}
	return true, r.advance(ctx, a)
}

// advance judges the claimed run's next interval, or releases the run until
// that interval is due.
func (r *Runner) advance(ctx context.Context, a store.Analysis) error {
	now := r.o.Now()
	log := r.o.Logger.With("analysis", a.ID, "seq", a.NextSeq, "owner", r.o.Owner)
	cfg, p, qs, err := load(a)
	if err != nil {
		// Prepare accepted this config: only a newer gohere could refuse it.
		return r.record(ctx, log, a, p, store.Interval{Seq: a.NextSeq, Start: a.StartAt, End: a.StartAt,
			BaselineStart: a.StartAt, BaselineEnd: a.StartAt, Queries: json.RawMessage("[]"),
			Verdict: gohere.VerdictNoData, Error: err.Error(), JudgedAt: now}, true)
	}
	seq := a.NextSeq
	if due := p.due(seq); due.After(now) {
		return r.release(ctx, log, a, now, due, "")
	}
	ctx, span := tracer.Start(ctx, "analysis.interval", traceAttrs(
		attribute.String("gohere.analysis_id", a.ID), attribute.String("gohere.deploy_id", a.DeployID),
		attribute.Int("gohere.seq", seq), attribute.Int("gohere.intervals", p.n)))
	defer span.End()

	canary, baseline := p.windows(seq)
	qctx, cancel := context.WithTimeout(ctx, r.o.Lease/2)
	e := &evaluator{source: r.o.Source, judge: r.o.Judge, metrics: r.o.Metrics, parallel: r.o.Parallel, step: p.step}
	began := time.Now()
	var res Result
	if p.mode == judge.Sequential {
		res, err = e.evaluateSequential(qctx, cfg, qs, p.aggregate, target(a, cfg), p, seq)
	} else {
		res, err = e.evaluate(qctx, cfg, qs, p.aggregate, target(a, cfg), canary, baseline)
	}
	cancel()
	took := time.Since(began)
	if ctx.Err() != nil {
		return nil // shutting down: the lease runs out, the interval is judged later
	}
	iv := store.Interval{Seq: seq, Start: canary.Start, End: canary.End, BaselineStart: baseline.Start, BaselineEnd: baseline.End,
		BaselineSamples: res.BaselineSamples, CanarySamples: res.CanarySamples, JudgedAt: r.o.Now(), Duration: took}
	iv.Queries, _ = json.Marshal(orEmpty(res.Queries))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "interval")
		if gohere.KindOf(err) == gohere.Invalid {
			iv.Verdict, iv.Error = gohere.VerdictNoData, err.Error()
			return r.record(ctx, log, a, p, iv, true)
		}
		deadline := p.deadline(seq)
		tries := a.Attempts + 1
		if tries < r.o.MinTries || now.Before(deadline) {
			next := now.Add(r.backoff(a.Attempts))
			if now.Before(deadline) && next.After(deadline) {
				next = deadline // one last try when the interval's time is up
			}
			log.WarnContext(ctx, "metric store failed; retrying", "tries", tries, "next", next, "error", err)
			return r.release(ctx, log, a, now, next, err.Error())
		}
		iv.Verdict = gohere.VerdictNoData
		iv.Error = fmt.Sprintf("the metric store failed %d times until the interval's time was up: %v", tries, err)
		return r.record(ctx, log, a, p, iv, false)
	}
	rep := res.Report
	iv.Verdict, iv.Score = rep.Verdict, rep.Score
	if iv.Report, err = json.Marshal(storedReport{rep, res.Sequential}); err != nil {
		iv.Report, iv.Verdict, iv.Score = nil, gohere.VerdictNoData, 0
		iv.Error = fmt.Sprintf("the judge's report cannot be stored: %v", err)
	}
	span.SetAttributes(attribute.String("gohere.verdict", string(iv.Verdict)), attribute.Float64("gohere.score", iv.Score))
	if res.Sequential != nil && !res.Sequential.Rejected() {
		// Only a test's rejection stops a sequential run early: a look
		// failing for want of data (the first looks are short of it by
		// design) waits for the next one.
		p.holdEarlyFail = true
	}
	if p.earlyPass && res.Sequential != nil && res.Sequential.Fits && iv.Verdict == gohere.VerdictPass && seq < p.n {
		// Every confidence sequence lies inside its band: the run ends
		// here as if this were its last look.
		log.InfoContext(ctx, "sequential early pass", "looks", seq, "of", p.n)
		p.n = seq
	}
	return r.record(ctx, log, a, p, iv, false)
}

// storedReport is an interval's stored evidence: the judge's report and, in
// sequential mode, the tests over every look so far under "sequential"
// (decoded by the report page; a reader of judge.Report ignores it).
type storedReport struct {
	judge.Report
	Sequential *judge.SequentialEvidence `json:"sequential,omitempty"`
}

// backoff is the wait after the given number of failed tries.
func (r *Runner) backoff(failed int) time.Duration {
	d := r.o.Backoff
	for range min(failed, 30) {
		d *= 2
		if d >= r.o.MaxBackoff {
			return r.o.MaxBackoff
		}
	}
	return d
}

// release hands the run back, due again at next.
func (r *Runner) release(ctx context.Context, log *slog.Logger, a store.Analysis, now, next time.Time, lastErr string) error {
	err := r.o.Store.ReleaseAnalysis(ctx, a.Lease, now, next, lastErr)
	if gohere.KindOf(err) == gohere.Conflict {
		// Taken over after our lease ended, or decided by a human meanwhile.
		log.WarnContext(ctx, "run not released", "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("analysis %s: %w", a.ID, err)
	}
	return nil
}

// record stores the interval with what the run becomes.
func (r *Runner) record(ctx context.Context, log *slog.Logger, a store.Analysis, p plan, iv store.Interval, broken bool) error {
	prog := progress(p, iv, broken)
	err := r.o.Store.RecordInterval(ctx, a.Lease, iv, prog)
	if gohere.KindOf(err) == gohere.Conflict {
		// Another runner took the run over after our lease ended (its
		// judgement of this interval is the one that counts), or a human
		// decided meanwhile.
		log.WarnContext(ctx, "interval not recorded", "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("analysis %s: interval %d: %w", a.ID, iv.Seq, err)
	}
	r.o.Metrics.ObserveInterval(string(iv.Verdict))
	log.InfoContext(ctx, "interval judged", "verdict", iv.Verdict, "score", iv.Score, "state", prog.State, "error", iv.Error)
	return nil
}

// progress decides what a run becomes after an interval:
//   - broken (the config or a query is rejected): error, waiting for a human;
//   - a Fail, or a Marginal at or below the marginal threshold, before the
//     last interval: failed_early with verdict Fail, waiting for a human
//     (a failing critical metric scores 0, so it is a Fail);
//   - the last interval: its verdict is the run's; auto_promote on_pass
//     approves a Pass, anything else waits for a human;
//   - a run that ends failing with auto_halt on_fail is halted at once;
//   - otherwise: running, due at the next interval.
//
// NoData never stops a run early and never passes it; Marginal and NoData
// always wait for a human.
func progress(p plan, iv store.Interval, broken bool) store.Progress {
	last := iv.Seq >= p.n
	early := (iv.Verdict == gohere.VerdictFail || iv.Verdict == gohere.VerdictMarginal && iv.Score <= p.marginal) && !p.holdEarlyFail
	auto := func(kind gohere.DecisionKind, reason string) *gohere.Decision {
		return &gohere.Decision{Kind: kind, Actor: "gohere", Source: gohere.SourceAuto, DecidedAt: iv.JudgedAt, Reason: reason}
	}
	switch {
	case broken:
		return store.Progress{State: store.AnalysisError}
	case early && !last && p.autoHalt == judge.HaltOnFail:
		return store.Progress{State: store.AnalysisHalted, Verdict: gohere.VerdictFail, Decision: auto(gohere.DecisionHalt,
			fmt.Sprintf("auto_halt: on_fail, and interval %d failed with score %.2f", iv.Seq, iv.Score))}
	case early && !last:
		return store.Progress{State: store.AnalysisFailedEarly, Verdict: gohere.VerdictFail}
	case last && iv.Verdict == gohere.VerdictPass && p.autoPromote == judge.PromoteOnPass:
		return store.Progress{State: store.AnalysisApproved, Decision: auto(gohere.DecisionApprove,
			fmt.Sprintf("auto_promote: on_pass, and the last interval passed with score %.2f", iv.Score))}
	case last && iv.Verdict == gohere.VerdictFail && p.autoHalt == judge.HaltOnFail:
		return store.Progress{State: store.AnalysisHalted, Decision: auto(gohere.DecisionHalt,
			fmt.Sprintf("auto_halt: on_fail, and the last interval failed with score %.2f", iv.Score))}
	case last:
		return store.Progress{State: store.AnalysisAwaitingDecision}
	}
	return store.Progress{State: store.AnalysisRunning, NextDueAt: p.due(iv.Seq + 1)}
}

// load reads a stored run's config and schedule.
func load(a store.Analysis) (judge.Config, plan, compiled, error) {
	cfg, err := judge.LoadConfig(strings.NewReader(a.Config))
	if err != nil {
		return cfg, plan{}, nil, fmt.Errorf("analysis %s: canary config: %w", a.ID, err)
	}
	p, err := newPlan(cfg, a.StartAt, a.EndAt)
	if err != nil {
		return cfg, p, nil, fmt.Errorf("analysis %s: %w", a.ID, err)
	}
	qs, err := compile(cfg)
	if err != nil {
		return cfg, p, nil, fmt.Errorf("analysis %s: %w", a.ID, err)
	}
	return cfg, p, qs, nil
}

func target(a store.Analysis, cfg judge.Config) Target {
	t := Target{Service: a.Service, Env: a.Env, Baseline: a.BaselineVersion, Canary: a.CanaryVersion}
	if cfg.Analysis != nil {
		t.Vars = cfg.Analysis.Vars
	}
	return t
}

func orEmpty(qs []Query) []Query {
	if qs == nil {
		return []Query{}
	}
	return qs
}
