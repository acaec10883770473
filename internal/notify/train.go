package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/gohere/gohere/internal/retry"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/train"
)

// TrainQueue is the durable list of train changes to tell (*store.DB):
// the train_messages table, claimed like notifications.
type TrainQueue interface {
	ClaimTrainMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.TrainMessage, error)
	MarkTrainMessage(ctx context.Context, id int64, destination string) error
	CompleteTrainMessage(ctx context.Context, id int64, now time.Time) error
	RetryTrainMessage(ctx context.Context, id int64, next time.Time, lastErr string) error
}

// TrainSweeper moves trains on by themselves (*store.DB): a head car whose
// deploy finished, a member who stopped answering.
type TrainSweeper interface {
	SweepTrains(ctx context.Context, now time.Time, idle time.Duration, carSize int) (int, error)
}

// TrainOptions configure a TrainWorker.
type TrainOptions struct {
	Sweeper TrainSweeper // required
	Queue   TrainQueue   // nil: no chat destination, trains are swept only
	// Defaults are the destinations of trains no route matches; a route
	// matches a train by its name as the service.
	Defaults []Destination
	Routes   Routes
	Handles  Handles
	Logger   *slog.Logger
	Recorder Recorder // counts deliveries with the deploys'; nil: not counted
	// Idle is how long a head car's member may not answer before being
	// moved to the next car; CarSize bounds that car. Defaults 30m and 3.
	Idle    time.Duration
	CarSize int
	// Timeout, Lease, Poll, MinBackoff and MaxBackoff as in Options;
	// Poll also paces the sweep. Default Poll 10s.
	Timeout, Lease, Poll   time.Duration
	MinBackoff, MaxBackoff time.Duration
}

// TrainWorker sweeps the trains and tells their changes, each once per
// destination, in order per train. It shares the deploy worker's sender and
// backoff: only the queue and the rendering are the train's own.
type TrainWorker struct {
	opts TrainOptions
	w    *Worker // its client, destination health and sender
}

// NewTrainWorker returns a worker; it does nothing until Run.
func NewTrainWorker(opts TrainOptions) (*TrainWorker, error) {
	if opts.Sweeper == nil {
		return nil, errors.New("notify: trains: a Sweeper is required")
	}
	if opts.Queue != nil && len(opts.Defaults) == 0 && len(opts.Routes.Routes) == 0 {
		return nil, errors.New("notify: trains: no destination: give a webhook or a route")
	}
	opts.Idle = retry.Or(opts.Idle, 30*time.Minute)
	if opts.CarSize <= 0 {
		opts.CarSize = 3
	}
	opts.Poll = retry.Or(opts.Poll, 10*time.Second)
	shared := Options{Logger: opts.Logger, Recorder: opts.Recorder, Timeout: opts.Timeout, Lease: opts.Lease, Poll: opts.Poll,
		MinBackoff: opts.MinBackoff, MaxBackoff: opts.MaxBackoff}
	shared.defaults()
	w := newWorker(shared)
	return &TrainWorker{opts: opts, w: w}, nil
}

// Kick makes a running worker sweep and deliver now. It never blocks.
func (t *TrainWorker) Kick() { t.w.Kick() }

// Run sweeps and delivers until ctx is done, then returns ctx's error.
func (t *TrainWorker) Run(ctx context.Context) error {
	return retry.Loop(ctx, t.w.kick, t.w.opts.Poll, t.w.opts.Batch, t.Round,
		func(err error) { t.w.opts.Logger.Warn("notify: train round failed", "err", err) })
}

// Round sweeps the trains, then tells the messages due. It returns how
// many messages it claimed.
func (t *TrainWorker) Round(ctx context.Context) (int, error) {
	_, sweepErr := t.opts.Sweeper.SweepTrains(ctx, time.Now(), t.opts.Idle, t.opts.CarSize)
	if t.opts.Queue == nil {
		return 0, sweepErr
	}
	claimed := time.Now()
	ms, err := t.opts.Queue.ClaimTrainMessages(ctx, claimed, t.w.opts.Lease, t.w.opts.Batch)
	if err != nil {
		return 0, errors.Join(sweepErr, fmt.Errorf("notify: trains: claim: %w", err))
	}
	r := round{leaseEnd: claimed.Add(t.w.opts.Lease), unavailable: map[string]error{}}
	errs := []error{sweepErr}
	for _, m := range ms {
		if err := t.deliver(ctx, &r, m); err != nil {
			if errors.Is(err, errLeaseShort) {
				break // left claimed: due again when the lease ends
			}
			errs = append(errs, err)
		}
	}
	return len(ms), errors.Join(errs...)
}

// deliver tells one message to each destination not yet done, as the
// deploy worker does, then completes it or schedules a retry. It returns
// store errors only.
func (t *TrainWorker) deliver(ctx context.Context, r *round, m store.TrainMessage) error {
	failed, wait, err := t.w.tellEach(ctx, r, outgoing{
		dests: t.opts.Routes.For(m.Train, "", t.opts.Defaults), delivered: m.Delivered,
		send: func(ctx context.Context, dest Destination) error { return t.send(ctx, dest, m) },
		mark: func(ctx context.Context, name string) error {
			if err := t.opts.Queue.MarkTrainMessage(ctx, m.ID, name); err != nil {
				return fmt.Errorf("notify: train message %d: %w", m.ID, err)
			}
			return nil
		},
		refused: func(err error) {
			t.w.opts.Logger.Error("notify: the chat refused a train message for good, dropping it (check the webhook)",
				"train", m.Train, "err", err)
		},
	})
	if err != nil {
		return err
	}
	if failed != nil {
		return t.opts.Queue.RetryTrainMessage(ctx, m.ID, time.Now().Add(t.w.backoff(m.Attempts, wait)), failed.Error())
	}
	return t.opts.Queue.CompleteTrainMessage(ctx, m.ID, time.Now())
}

func (t *TrainWorker) send(ctx context.Context, dest Destination, m store.TrainMessage) error {
	var body []byte
	var err error
	switch dest.Format {
	case FormatGeneric:
		body, err = TrainGeneric(m)
	default:
		body, err = json.Marshal(TrainSlack(m.Event, t.opts.Handles))
	}
	if err != nil {
		return &sendError{dest: dest.Name(), permanent: true, msg: fmt.Sprintf("render train %s: %v", m.Event.Kind, err)}
	}
	return post(ctx, t.w.client, dest, body)
}

// TrainGeneric renders a train message as plain JSON:
// {"id","event":"train.<kind>","at","train":<the event>}.
func TrainGeneric(m store.TrainMessage) ([]byte, error) {
	return json.Marshal(struct {
		ID    string      `json:"id"`
		Event string      `json:"event"`
		At    time.Time   `json:"at"`
		Train train.Event `json:"train"`
	}{ID: "train/" + m.Train + "/" + strconv.FormatInt(m.ID, 10), Event: "train." + string(m.Event.Kind), At: m.Event.At, Train: m.Event})
}

// TrainSlack renders a train change: what happened, and what happens next
// with the people who must act named, e.g. "*checkout train* alice is in.
// Car 1 is all in: @bob, deploy it to staging."
func TrainSlack(e train.Event, h Handles) slack.WebhookMessage {
	m := message{head: []string{trainHead(e, h)}}
	if next := trainNext(e, h); next != "" {
		m.body = []string{next}
	}
	var blocks []slack.Block
	for _, lines := range [][]string{m.head, m.body} {
		if len(lines) > 0 {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fitLines(lines, maxSection)), nil, nil))
		}
	}
	off := false
	return slack.WebhookMessage{Text: fallback(m), Blocks: &slack.Blocks{BlockSet: blocks}, UnfurlLinks: &off, UnfurlMedia: &off}
}

func trainHead(e train.Event, h Handles) string {
	who, whom := h.Mention(e.Actor), h.Mention(e.Member)
	car := "car " + strconv.Itoa(e.Car)
	head := "*" + text(e.Train, nameRunes) + " train* "
	switch e.Kind {
	case train.EventJoined:
		return head + who + " joined " + car + "."
	case train.EventIn:
		return head + who + " is in (" + car + ")."
	case train.EventVerified:
		return head + who + " verified (" + car + ")."
	case train.EventLeft:
		return head + who + " left " + car + "."
	case train.EventRemoved:
		return head + who + " removed " + whom + " from " + car + "."
	case train.EventIdle:
		return head + whom + ": " + text(e.Reason, reasonRunes) + "."
	case train.EventStopped:
		return head + "*stopped* by " + who + ": " + text(e.Reason, reasonRunes)
	case train.EventStarted:
		return head + "*started* again by " + who + "."
	case train.EventDeploying:
		return head + who + " deploys " + car + " (deploy " + text(e.DeployID, nameRunes) + ")."
	case train.EventDeployed:
		if e.Reason != "" {
			return head + "*stopped*: " + text(e.Reason, reasonRunes)
		}
		return head + car + "'s deploy " + text(e.DeployID, nameRunes) + " " + text(strings.ReplaceAll(e.Status, "_", " "), nameRunes) + "."
	}
	return head + text(string(e.Kind), nameRunes)
}

// trainNext says what the change asks of whom.
func trainNext(e train.Event, h Handles) string {
	mention := func(names []string) string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = h.Mention(n)
		}
		return strings.Join(out, " ")
	}
	leader, car := h.Mention(e.Leader), "Car "+strconv.Itoa(e.Car)
	switch {
	case e.Kind == train.EventStopped || (e.Kind == train.EventDeployed && e.Reason != ""):
		return "Nothing moves until a human starts it: " + mention(e.Members)
	case e.Kind == train.EventDeployed && e.CarState == train.Done:
		if e.Leader == "" {
			return car + " is done. The train is empty."
		}
		return car + " is done. " + leader + " leads the next car."
	case !e.Moved && e.Kind != train.EventStarted:
		return ""
	case e.CarState == train.Staging:
		return car + " is all in: " + leader + ", deploy it to staging."
	case e.CarState == train.Verifying:
		return car + " is on staging: " + mention(e.Members) + ", verify your changes."
	case e.CarState == train.Prod:
		return car + " is verified: " + leader + ", deploy it to production."
	}
	return ""
}

// Escape makes user text inert in mrkdwn, as every message of ours does,
// for replies composed elsewhere (the slash command's answers).
func Escape(s string) string { return text(s, maxSection/4) }

// TrainStatus describes trains for a chat reply, one line per car.
func TrainStatus(ts []train.Train, h Handles, now time.Time) string {
	if len(ts) == 0 {
		return "No train has anyone aboard."
	}
	var lines []string
	for _, t := range ts {
		head := "*" + text(t.Name, nameRunes) + " train*"
		switch {
		case t.Stopped:
			head += " *stopped* by " + h.Mention(t.StoppedBy) + " " + humanDuration(now.Sub(t.StoppedAt)) + " ago: " + text(t.Reason, reasonRunes)
		case len(t.Cars) == 0:
			head += " is empty"
		default:
			head += " runs, led by " + h.Mention(t.Leader())
		}
		lines = append(lines, head)
		for _, c := range t.Cars {
			ms := make([]string, len(c.Members))
			for i, m := range c.Members {
				ms[i] = h.Mention(m.Name) + " (" + string(m.State) + ")"
			}
			lines = append(lines, "• car "+strconv.Itoa(c.ID)+" "+string(c.State)+" for "+humanDuration(now.Sub(c.Since))+": "+strings.Join(ms, ", "))
		}
	}
	return fitLines(lines, maxText)
}

// Name is the person a chat member id stands for in h (the reverse of
// Mention), "" when h does not know it.
func (h Handles) Name(memberID string) string {
	for name, handle := range h {
		if handle == memberID && memberID != "" {
			return name
		}
	}
	return ""
}
