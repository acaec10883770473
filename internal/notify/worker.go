package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/retry"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/judge"
)

var tracer = otel.Tracer("github.com/gohere/gohere/internal/notify")

// Queue is the durable list of state changes to tell (*store.DB).
type Queue interface {
	ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Notification, error)
	MarkNotified(ctx context.Context, id int64, destination string) error
	CompleteNotification(ctx context.Context, id int64, now time.Time) error
	RetryNotification(ctx context.Context, id int64, next time.Time, lastErr string) error
}

// Reader reads what a message tells (*store.DB).
type Reader interface {
	GetDeploy(ctx context.Context, id string) (gohere.Deploy, error)
	GetAnalysisSummary(ctx context.Context, id string) (store.Analysis, error)
	IntervalReport(ctx context.Context, analysisID string, seq int) ([]byte, error)
	GetAlert(ctx context.Context, id int64) (gohere.Alert, error)
}

// Recorder counts deliveries by result: ok, error, dropped.
type Recorder interface {
	Notification(result string)
}

// Options configure a Worker. Queue and Reader are required, and at least
// one destination (Defaults or Routes).
type Options struct {
	Queue    Queue
	Reader   Reader
	Defaults []Destination // where deploys no route matches go
	Routes   Routes
	Handles  Handles
	Links    func(gohere.Deploy) Links // nil: no links
	Logger   *slog.Logger
	Recorder Recorder // nil: not counted
	// Timeout bounds one webhook call. Default 10s.
	Timeout time.Duration
	// Lease is how long claimed notifications are hidden from other
	// workers and replicas; a call starts only while twice Timeout of it
	// is left (the call, then its record), so that no other worker can
	// claim and send it meanwhile.
	// Default 12 × Timeout: room for a few calls, one per destination.
	Lease time.Duration
	// Poll is how often the worker looks for due notifications when not
	// kicked. Default 2s.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the retry delay (doubling, ±50 %
	// jitter; a chat's Retry-After is honoured up to MaxBackoff). Defaults
	// 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// Batch is the most notifications claimed at once. Default 50.
	Batch int
}

func (o *Options) validate() error {
	if o.Queue == nil || o.Reader == nil {
		return errors.New("notify: Queue and Reader are required")
	}
	if len(o.Defaults) == 0 && len(o.Routes.Routes) == 0 {
		return errors.New("notify: no destination: give a webhook or a route")
	}
	o.defaults()
	return nil
}

// defaults fills in what a Worker and a TrainWorker share.
func (o *Options) defaults() {
	if o.Links == nil {
		o.Links = func(gohere.Deploy) Links { return Links{} }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Recorder == nil {
		o.Recorder = nopRecorder{}
	}
	o.Timeout = retry.Or(o.Timeout, 10*time.Second)
	o.Lease = max(retry.Or(o.Lease, 12*o.Timeout), 4*o.Timeout) // shorter, and no call could ever start
	o.Poll = retry.Or(o.Poll, 2*time.Second)
	o.MinBackoff = retry.Or(o.MinBackoff, time.Second)
	o.MaxBackoff = retry.Or(o.MaxBackoff, 5*time.Minute)
	if o.Batch <= 0 {
		o.Batch = 50
	}
}

type nopRecorder struct{}

func (nopRecorder) Notification(string) {}

// Worker tells due notifications to their destinations until its context
// ends. Delivery is at least once per destination, made as close to
// exactly once as webhooks allow: a destination is recorded as done right
// after its 2xx, and a lease keeps other replicas off meanwhile. Only a
// crash between the chat's 2xx and that record sends a message twice; its
// Event.ID lets a receiver drop the repeat.
type Worker struct {
	opts   Options
	client *http.Client
	kick   chan struct{}

	mu   sync.Mutex
	down map[string]bool // destinations the last attempt found unavailable
}

// New returns a worker; it does nothing until Run.
func New(opts Options) (*Worker, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return newWorker(opts), nil
}

func newWorker(opts Options) *Worker {
	return &Worker{
		opts: opts,
		// Webhooks answer; a redirect would be a misconfiguration that
		// could carry the message (and the URL's secret) elsewhere.
		client: &http.Client{Timeout: opts.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		kick: make(chan struct{}, 1),
		down: map[string]bool{},
	}
}

// Kick makes a running worker look for due notifications now. It never
// blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers due notifications until ctx is done, then returns ctx's
// error. Store errors are logged and retried at the next poll.
func (w *Worker) Run(ctx context.Context) error {
	return retry.Loop(ctx, w.kick, w.opts.Poll, w.opts.Batch, w.DeliverDue,
		func(err error) { w.opts.Logger.Warn("notify: delivery round failed", "err", err) })
}

// DeliverDue claims the notifications due now and tells them. It returns
// how many it claimed; delivery failures are scheduled for retry, not
// returned.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	claimed := time.Now()
	ns, err := w.opts.Queue.ClaimNotifications(ctx, claimed, w.opts.Lease, w.opts.Batch)
	if err != nil {
		return 0, fmt.Errorf("notify: claim: %w", err)
	}
	r := round{leaseEnd: claimed.Add(w.opts.Lease), unavailable: map[string]error{}}
	var errs []error
	for _, n := range ns {
		if err := w.deliver(ctx, &r, n); err != nil {
			if errors.Is(err, errLeaseShort) {
				// Left claimed, the rest comes due again when the lease ends.
				w.opts.Logger.Warn("notify: lease running out, leaving the rest of the batch", "deploy_id", n.DeployID)
				break
			}
			errs = append(errs, err)
		}
	}
	return len(ns), errors.Join(errs...)
}

// round is what one delivery round learnt.
type round struct {
	leaseEnd time.Time
	// unavailable destinations are not called again this round: their
	// notifications wait with backoff instead of each timing out.
	unavailable map[string]error
}

var errLeaseShort = errors.New("notify: too little of the lease left for another call")

// deliver tells one notification to each of its destinations not yet done,
// then completes it or schedules a retry. It returns store errors only.
func (w *Worker) deliver(ctx context.Context, r *round, n store.Notification) error {
	ctx, span := tracer.Start(ctx, "notify.deliver", trace.WithAttributes(
		attribute.String("gohere.deploy_id", n.DeployID), attribute.String("gohere.event", n.Kind)))
	defer span.End()

	ev, err := w.event(ctx, n)
	if gohere.KindOf(err) == gohere.NotFound {
		// The deploy or analysis is gone (deleted): nobody to tell of it.
		w.opts.Logger.Warn("notify: nothing left to tell, dropping", "deploy_id", n.DeployID, "event", n.Key, "err", err)
		return w.opts.Queue.CompleteNotification(ctx, n.ID, time.Now())
	}
	if err != nil {
		return w.retry(ctx, n, err, 0)
	}
	failed, wait, err := w.tellEach(ctx, r, outgoing{
		dests: w.opts.Routes.For(ev.Deploy.Service, ev.Deploy.Env, w.opts.Defaults), delivered: n.Delivered,
		send: func(ctx context.Context, dest Destination) error { return w.send(ctx, dest, ev) },
		mark: func(ctx context.Context, name string) error {
			if err := w.opts.Queue.MarkNotified(ctx, n.ID, name); err != nil {
				return fmt.Errorf("notify: notification %d: %w", n.ID, err)
			}
			return nil
		},
		refused: func(err error) {
			w.opts.Logger.Error("notify: the chat refused the message for good, dropping it (check the webhook)",
				"deploy_id", n.DeployID, "event", n.Key, "err", err)
		},
	})
	if err != nil {
		return err
	}
	if failed != nil {
		span.SetStatus(codes.Error, "delivery failed")
		return w.retry(ctx, n, failed, wait)
	}
	return w.opts.Queue.CompleteNotification(ctx, n.ID, time.Now())
}

// outgoing is one queued message on its way to its destinations, whatever
// it tells (a deploy's change, a train's).
type outgoing struct {
	dests     []Destination
	delivered []string // destinations done already
	send      func(ctx context.Context, dest Destination) error
	mark      func(ctx context.Context, destination string) error // records one as done
	refused   func(err error)                                     // logs a message a chat refused for good
}

// tellEach sends m to each of its destinations not yet done, except those
// found unavailable this round, and records each one done (sent, or
// refused for good). failed is a transient failure, if any, and wait the
// longest Retry-After; err is a store error or errLeaseShort.
func (w *Worker) tellEach(ctx context.Context, r *round, m outgoing) (failed error, wait time.Duration, err error) {
	for _, dest := range m.dests {
		name := dest.Name()
		if slices.Contains(m.delivered, name) {
			continue
		}
		if cause := r.unavailable[name]; cause != nil {
			failed = cause
			continue
		}
		if time.Until(r.leaseEnd) < 2*w.opts.Timeout {
			return failed, wait, errLeaseShort
		}
		err := m.send(ctx, dest)
		w.health(name, err)
		switch {
		case err == nil:
			w.opts.Recorder.Notification("ok")
		case permanentError(err):
			w.opts.Recorder.Notification("dropped")
			m.refused(err)
		default:
			w.opts.Recorder.Notification("error")
			r.unavailable[name] = err
			failed = err
			if se, ok := errors.AsType[*sendError](err); ok {
				wait = max(wait, se.after)
			}
			trace.SpanFromContext(ctx).RecordError(err)
			continue
		}
		if err := m.mark(ctx, name); err != nil {
			return failed, wait, err
		}
	}
	return failed, wait, nil
}

// health logs a destination's state when it changes: an outage of an hour
// is two lines, not one per message.
func (w *Worker) health(name string, err error) {
	down := err != nil && !permanentError(err)
	w.mu.Lock()
	was := w.down[name]
	w.down[name] = down
	w.mu.Unlock()
	switch {
	case down && !was:
		w.opts.Logger.Warn("notify: chat unavailable: messages wait and are retried with backoff", "destination", name, "err", err)
	case !down && was:
		w.opts.Logger.Info("notify: chat takes messages again", "destination", name)
	}
}

func (w *Worker) send(ctx context.Context, dest Destination, ev Event) error {
	var body []byte
	var err error
	switch dest.Format {
	case FormatGeneric:
		body, err = Generic(ev)
	default:
		body, err = json.Marshal(Slack(ev, w.opts.Handles))
	}
	if err != nil {
		return &sendError{dest: dest.Name(), permanent: true, msg: fmt.Sprintf("render %s: %v", ev.Kind, err)}
	}
	return post(ctx, w.client, dest, body)
}

func (w *Worker) retry(ctx context.Context, n store.Notification, cause error, atLeast time.Duration) error {
	wait := w.backoff(n.Attempts, atLeast)
	w.opts.Logger.Debug("notify: delivery failed, will retry", "deploy_id", n.DeployID, "event", n.Key,
		"attempt", n.Attempts+1, "in", wait, "err", cause)
	if err := w.opts.Queue.RetryNotification(ctx, n.ID, time.Now().Add(wait), cause.Error()); err != nil && gohere.KindOf(err) != gohere.NotFound {
		return fmt.Errorf("notify: notification %d: schedule retry: %w", n.ID, err)
	}
	return nil
}

// backoff is the wait before the next attempt after attempts failed ones,
// at least atLeast (a chat's Retry-After) within MaxBackoff.
func (w *Worker) backoff(attempts int, atLeast time.Duration) time.Duration {
	return max(retry.Delay(w.opts.MinBackoff, w.opts.MaxBackoff, attempts), min(atLeast, w.opts.MaxBackoff))
}

// event reads what the notification's message tells.
func (w *Worker) event(ctx context.Context, n store.Notification) (Event, error) {
	d, err := w.opts.Reader.GetDeploy(ctx, n.DeployID)
	if err != nil {
		return Event{}, fmt.Errorf("read deploy: %w", err)
	}
	ev := Event{
		ID: n.DeployID + "/" + n.Key, Kind: Kind(n.Kind), At: n.HappenedAt, Deploy: d, Links: w.opts.Links(d),
		Status: n.Facts.Status, Decision: n.Facts.Decision,
	}
	if n.Kind == store.NotifyAlert {
		a, err := w.opts.Reader.GetAlert(ctx, n.Facts.AlertID)
		if err != nil {
			return Event{}, fmt.Errorf("read alert: %w", err)
		}
		ev.Alert = &a
	}
	if n.AnalysisID == "" {
		return ev, nil
	}
	a, err := w.opts.Reader.GetAnalysisSummary(ctx, n.AnalysisID)
	if err != nil {
		return Event{}, fmt.Errorf("read analysis: %w", err)
	}
	ev.Analysis = &Analysis{
		ID: a.ID, State: string(cmp.Or(n.Facts.State, a.State)), Verdict: cmp.Or(n.Facts.Verdict, a.Verdict), Score: n.Facts.Score,
		Seq:            n.Facts.Seq,
		AwaitsDecision: a.State.AwaitsDecision() && a.Decision == nil && d.Running(),
	}
	if n.Kind == store.NotifyDecided {
		ev.Analysis.Verdict, ev.Analysis.Score = a.Verdict, a.Score
	}
	if n.Facts.Seq == 0 {
		return ev, nil
	}
	raw, err := w.opts.Reader.IntervalReport(ctx, n.AnalysisID, n.Facts.Seq)
	if err != nil {
		return Event{}, fmt.Errorf("read interval: %w", err)
	}
	if len(raw) == 0 {
		return ev, nil // the interval could not be judged: no report
	}
	var rep judge.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return Event{}, gohere.Errorf(gohere.Internal, "analysis %s: interval %d: report: %w", n.AnalysisID, n.Facts.Seq, err)
	}
	if len(rep.Reasons) > 0 {
		ev.Analysis.Reason = rep.Reasons[0]
	}
	if n.Kind == store.NotifyFailing {
		ev.Failing = FailingFrom(rep)
	}
	return ev, nil
}
