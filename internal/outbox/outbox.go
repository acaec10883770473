package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/annotate"
	"github.com/gohere/gohere/internal/retry"
	"github.com/gohere/gohere/internal/store"
)

var tracer = otel.Tracer("github.com/gohere/gohere/internal/outbox")

// downAfter is how many writes of a round must find Grafana unavailable in
// a row before the round takes it for down and leaves it alone.
const downAfter = 3

// Queue is the durable list of pending annotation writes.
type Queue interface {
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEntry, error)
	CompleteOutbox(ctx context.Context, entryID int64, deployID string, annotationID int64) error
	RetryOutbox(ctx context.Context, entryID int64, next time.Time, lastErr string) error
}

// Deploys reads what an annotation shows and where it already is.
type Deploys interface {
	GetDeploy(ctx context.Context, id string) (gohere.Deploy, error)
	AnnotationID(ctx context.Context, deployID string) (int64, error)
}

// Annotator writes annotations; *annotate.Grafana is the implementation.
type Annotator interface {
	FindByTag(ctx context.Context, tag string) (id int64, found bool, err error)
	Create(ctx context.Context, a annotate.Annotation) (int64, error)
	Update(ctx context.Context, id int64, a annotate.Annotation) error
}

// Extender queues an annotation update of every running deploy
// (*store.DB), so that their regions grow while they run.
type Extender interface {
	EnqueueRunning(ctx context.Context, now time.Time) (int, error)
}

// Backlog says how many entries wait and for how long (*store.DB), for
// the summary logged while Grafana stays unavailable.
type Backlog interface {
	OutboxStats(ctx context.Context, now time.Time) (pending int, oldest time.Duration, err error)
}

// Recorder counts annotation writes by result (ok, error).
type Recorder interface {
	AnnotationWrite(result string)
}

// Options configure a Worker. Queue, Deploys and Annotator are required.
type Options struct {
	Queue     Queue
	Deploys   Deploys
	Annotator Annotator
	Links     func(gohere.Deploy) annotate.Links // nil: no links in the text
	Logger    *slog.Logger
	Recorder  Recorder // nil: not counted
	// Alerts, when set, is the queue of correlated alerts to annotate;
	// AlertReport gives the report URL of the deploy an alert names.
	Alerts      AlertQueue
	AlertReport func(deployID string) string
	// Extender, when set, is asked every ExtendEvery (default 1m) to queue
	// the running deploys, whose regions then reach the time of the write.
	Extender    Extender
	ExtendEvery time.Duration

	// Lease is how long a claimed entry is hidden from other workers.
	// Default 1m.
	Lease time.Duration
	// DeliveryTime is the longest one deploy's delivery may take (its few
	// Grafana calls). A deploy's delivery starts only while this much of
	// the batch's lease is left, so that no other worker can claim it
	// meanwhile and write it twice; the rest of the batch waits for its
	// lease to end. Default Lease/3; at most Lease.
	DeliveryTime time.Duration
	// Poll is how often the worker looks for due entries when not kicked
	// (retries come due without a kick). Default 2s.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the retry delay, which doubles per
	// failed attempt and is jittered by ±50 %. Defaults 1s and 1m: after an
	// outage, annotations catch up within about a minute.
	MinBackoff, MaxBackoff time.Duration
	// Batch is the most deploys claimed at once (with all their entries).
	// Default 50.
	Batch int
	// Backlog, when set, counts what waits for the outage summary; nil:
	// the summary counts the entries its round claimed.
	Backlog Backlog
	// SummaryEvery is how often an outage that goes on is summarised in
	// the log (besides its start and end). Default 5m.
	SummaryEvery time.Duration
}

func (o *Options) validate() error {
	if o.Queue == nil || o.Deploys == nil || o.Annotator == nil {
		return errors.New("outbox: Queue, Deploys and Annotator are required")
	}
	if o.Links == nil {
		o.Links = func(gohere.Deploy) annotate.Links { return annotate.Links{} }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Recorder == nil {
		o.Recorder = nopRecorder{}
	}
	if o.AlertReport == nil {
		o.AlertReport = func(string) string { return "" }
	}
	o.Lease = retry.Or(o.Lease, time.Minute)
	o.DeliveryTime = min(retry.Or(o.DeliveryTime, o.Lease/3), o.Lease)
	o.Poll = retry.Or(o.Poll, 2*time.Second)
	o.ExtendEvery = retry.Or(o.ExtendEvery, time.Minute)
	o.MinBackoff = retry.Or(o.MinBackoff, time.Second)
	o.MaxBackoff = retry.Or(o.MaxBackoff, time.Minute)
	o.SummaryEvery = retry.Or(o.SummaryEvery, 5*time.Minute)
	if o.Batch <= 0 {
		o.Batch = 50
	}
	return nil
}

type nopRecorder struct{}

func (nopRecorder) AnnotationWrite(string) {}

// Worker delivers outbox entries until its context ends.
type Worker struct {
	opts Options
	kick chan struct{}

	mu    sync.Mutex
	state string // Grafana's, as the last round found it; see report
	// since is when state began, told when it last was logged.
	since, told time.Time
}

// New returns a worker; it does nothing until Run.
func New(opts Options) (*Worker, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Worker{opts: opts, kick: make(chan struct{}, 1)}, nil
}

// Kick makes a running worker look for due entries now instead of at its
// next poll. It never blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers due entries until ctx is done, then returns ctx's error.
// Store errors are logged and retried at the next poll: the entries stay
// in the database, so nothing is lost while the store is unavailable.
func (w *Worker) Run(ctx context.Context) error {
	extended := time.Now() // what was created just now needs no extension
	return retry.Loop(ctx, w.kick, w.opts.Poll, w.opts.Batch, func(ctx context.Context) (int, error) {
		if w.opts.Extender != nil && time.Since(extended) >= w.opts.ExtendEvery {
			extended = time.Now()
			if _, err := w.opts.Extender.EnqueueRunning(ctx, extended); err != nil && ctx.Err() == nil {
				w.opts.Logger.Warn("outbox: queue running deploys", "err", err)
			}
		}
		return w.DeliverDue(ctx)
	}, func(err error) { w.opts.Logger.Warn("outbox: delivery round failed", "err", err) })
}

// DeliverDue claims the entries due now and delivers them, one write per
// deploy. It returns how many entries it claimed; per-entry failures are
// scheduled for retry, not returned.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	claimed := time.Now()
	lastStart := claimed.Add(w.opts.Lease - w.opts.DeliveryTime)
	entries, err := w.opts.Queue.ClaimOutbox(ctx, claimed, w.opts.Lease, w.opts.Batch)
	if err != nil {
		return 0, fmt.Errorf("outbox: claim: %w", err)
	}
	// Entries of one deploy collapse: a delivery renders the deploy's state
	// as read after the claim, which includes every claimed change.
	byDeploy := make(map[string][]store.OutboxEntry)
	var order []string
	for _, e := range entries {
		if _, seen := byDeploy[e.DeployID]; !seen {
			order = append(order, e.DeployID)
		}
		byDeploy[e.DeployID] = append(byDeploy[e.DeployID], e)
	}
	var errs []error
	var (
		down    error // Grafana is unavailable: skip it for the rest of this round
		failing error // the latest write that found it unavailable
		inARow  int   // writes that did, since the last that did not
		tried   int
	)
	for _, id := range order {
		if time.Now().After(lastStart) {
			// A slow Grafana: the rest could outlive the lease. Left
			// claimed, they come due again when it ends.
			w.opts.Logger.Warn("outbox: lease running out, leaving the rest of the batch", "deploy_id", id)
			break
		}
		if down != nil {
			errs = append(errs, w.retry(ctx, id, byDeploy[id], down))
			continue
		}
		writeErr, err := w.deliverDeploy(ctx, id, byDeploy[id])
		tried++
		switch gohere.KindOf(writeErr) {
		case gohere.Unauthorized, gohere.Forbidden:
			// Every other write would be refused alike: they wait, with
			// backoff, instead of each asking Grafana again.
			down = writeErr
		case gohere.Unavailable:
			// One failure is a flaky Grafana: that entry retries alone.
			// downAfter in a row is an outage, as above.
			failing, inARow = writeErr, inARow+1
			if inARow >= downAfter {
				down = writeErr
			}
		default:
			inARow = 0
		}
		errs = append(errs, err)
	}
	alerts, err := w.deliverAlerts(ctx, down, lastStart)
	errs = append(errs, err)
	if len(order) > 0 {
		found := down
		if found == nil && tried > 0 && inARow == tried {
			found = failing // every write of the round failed: down, however few
		}
		w.report(ctx, found, time.Now(), len(entries))
	}
	// The more full queue decides whether the next round starts at once.
	return max(len(entries), alerts), errors.Join(errs...)
}

// report logs Grafana's state when it changes (healthy, unavailable, or
// rejecting the token), not once per entry, and every SummaryEvery while
// an outage goes on: an outage of an hour is a dozen lines, not thousands.
// claimed is how many entries the round at now claimed.
func (w *Worker) report(ctx context.Context, down error, now time.Time, claimed int) {
	state := "ok"
	switch gohere.KindOf(down) {
	case gohere.Unauthorized, gohere.Forbidden:
		state = "rejected"
	case gohere.Unavailable:
		state = "down"
	}
	w.mu.Lock()
	changed, since := state != w.state, w.since
	summary := !changed && state != "ok" && now.Sub(w.told) >= w.opts.SummaryEvery
	if changed {
		w.state, w.since = state, now
	}
	if changed || summary {
		w.told = now
	}
	w.mu.Unlock()
	if !changed && !summary {
		return
	}
	if state == "ok" {
		attrs := []any{}
		if !since.IsZero() {
			attrs = append(attrs, "after", now.Sub(since).Round(time.Second))
		}
		w.opts.Logger.Info("outbox: Grafana accepts annotation writes again", attrs...)
		return
	}
	text := outageText[state]
	attrs := []any{"waiting", claimed}
	msg := text.start
	if summary {
		msg = text.goesOn
		attrs = append(w.backlog(ctx, now, claimed), "for", now.Sub(since).Round(time.Second))
	}
	w.opts.Logger.Log(ctx, text.level, msg, append(attrs, "err", down)...)
}

// outageText is what the log says when an outage starts and while it goes on.
var outageText = map[string]struct {
	level         slog.Level
	start, goesOn string
}{
	"down": {slog.LevelWarn,
		"outbox: Grafana is unavailable: annotations wait and are retried with backoff",
		"outbox: Grafana is still unavailable: annotations wait"},
	"rejected": {slog.LevelError,
		"outbox: Grafana rejects the token: annotations wait until it accepts one (check GOHERE_GRAFANA_TOKEN and its role)",
		"outbox: Grafana still rejects the token: annotations wait (check GOHERE_GRAFANA_TOKEN and its role)"},
}

// backlog is what waits, as the summary tells it: every pending entry and
// the oldest's age, or what the round claimed when the store cannot say.
func (w *Worker) backlog(ctx context.Context, now time.Time, claimed int) []any {
	if w.opts.Backlog != nil {
		pending, oldest, err := w.opts.Backlog.OutboxStats(ctx, now)
		if err == nil {
			return []any{"waiting", pending, "oldest", oldest.Round(time.Second)}
		}
		w.opts.Logger.Warn("outbox: count the waiting entries", "err", err)
	}
	return []any{"waiting", claimed}
}

// GrafanaState is what the latest delivery round found: "ok", "down" or
// "rejected" (401/403), "" before the first round.
func (w *Worker) GrafanaState() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// deliverDeploy writes one deploy's annotation and settles its entries. It
// returns the write's error, already scheduled for retry, and the store's
// error, which is the caller's to report.
func (w *Worker) deliverDeploy(ctx context.Context, deployID string, entries []store.OutboxEntry) (writeErr, storeErr error) {
	ctx, span := tracer.Start(ctx, "outbox.deliver", trace.WithAttributes(attribute.String("gohere.deploy_id", deployID)))
	defer span.End()

	annotationID, err := w.write(ctx, deployID)
	if err != nil {
		switch gohere.KindOf(err) {
		case gohere.Unavailable, gohere.Unauthorized, gohere.Forbidden: // reported once per outage
		default:
			w.opts.Logger.Warn("outbox: annotation write failed, will retry", "deploy_id", deployID, "err", err)
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, "annotation write failed")
		w.opts.Recorder.AnnotationWrite("error")
		return err, w.retry(ctx, deployID, entries, err)
	}
	w.opts.Recorder.AnnotationWrite("ok")
	var errs []error
	for _, e := range entries {
		if err := w.opts.Queue.CompleteOutbox(ctx, e.ID, deployID, annotationID); err != nil {
			errs = append(errs, fmt.Errorf("outbox: deploy %s: complete entry %d: %w", deployID, e.ID, err))
		}
	}
	return nil, errors.Join(errs...)
}

// write makes Grafana's annotation of the deploy match its current state
// and returns the annotation id.
func (w *Worker) write(ctx context.Context, deployID string) (int64, error) {
	d, err := w.opts.Deploys.GetDeploy(ctx, deployID)
	if err != nil {
		return 0, fmt.Errorf("read deploy: %w", err)
	}
	id, err := w.opts.Deploys.AnnotationID(ctx, deployID)
	if err != nil {
		return 0, fmt.Errorf("read annotation id: %w", err)
	}
	return w.upsert(ctx, id, annotate.DeployIDTag(deployID), annotate.ForDeploy(d, w.opts.Links(d), time.Now()))
}

// upsert writes a as the annotation id (0: none recorded yet), found again
// by tag, and returns its id.
func (w *Worker) upsert(ctx context.Context, id int64, tag string, a annotate.Annotation) (int64, error) {
	if id == 0 {
		// The create of an earlier attempt may have succeeded with its
		// response lost: look before creating.
		found, ok, err := w.opts.Annotator.FindByTag(ctx, tag)
		if err != nil {
			return 0, err
		}
		if !ok {
			return w.opts.Annotator.Create(ctx, a)
		}
		id = found
	}
	err := w.opts.Annotator.Update(ctx, id, a)
	if gohere.KindOf(err) == gohere.NotFound {
		// Someone deleted it in Grafana: put it back.
		return w.opts.Annotator.Create(ctx, a)
	}
	return id, err
}

func (w *Worker) retry(ctx context.Context, deployID string, entries []store.OutboxEntry, cause error) error {
	var errs []error
	for _, e := range entries {
		next := time.Now().Add(retry.Delay(w.opts.MinBackoff, w.opts.MaxBackoff, e.Attempts))
		w.opts.Logger.Debug("outbox: annotation write failed, will retry",
			"deploy_id", deployID, "attempt", e.Attempts+1, "next", next, "err", cause)
		if err := w.opts.Queue.RetryOutbox(ctx, e.ID, next, cause.Error()); err != nil && gohere.KindOf(err) != gohere.NotFound {
			errs = append(errs, fmt.Errorf("outbox: deploy %s: schedule retry of entry %d: %w", deployID, e.ID, err))
		}
	}
	return errors.Join(errs...)
}
