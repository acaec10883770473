package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/train"
)

// TrainAction is one rule of internal/train applied to a loaded train: it
// changes the train and returns the event to tell, or an error that
// changed nothing.
type TrainAction func(t *train.Train) (train.Event, error)

// ActOnTrain applies act to the named train (an empty one when nobody
// joined yet) in one transaction, with the train's row locked on
// PostgreSQL (SQLite has one writer already): one writer per train at a
// time, whichever replica it runs on. The head car's deploy is looked at
// first (see settleDeploy), and each change queues its message in the same
// transaction. It returns the train after the change and the event of act.
func (db *DB) ActOnTrain(ctx context.Context, name string, now time.Time, act TrainAction) (_ train.Train, _ train.Event, err error) {
	if err := train.ValidateName(name); err != nil {
		return train.Train{}, train.Event{}, err
	}
	ctx, span := db.start(ctx, "ActOnTrain", attribute.String("gohere.train", name))
	defer func() { end(span, err) }()
	var (
		t  train.Train
		ev train.Event
	)
	err = db.inTx(ctx, "train "+name, func(tx *sql.Tx) error {
		l, err := db.lockTrain(ctx, tx, name, now)
		if err != nil {
			return err
		}
		if err := db.settleDeploy(ctx, tx, l, now); err != nil {
			return err
		}
		if ev, err = act(&l.t); err != nil {
			return err
		}
		if ev.Kind == train.EventDeploying {
			if err := checkCarDeploy(ctx, tx, &l.t, ev.DeployID); err != nil {
				return err // rolled back: the car has no deploy
			}
		}
		if err := db.changed(ctx, tx, l, ev); err != nil {
			return err
		}
		if ev.Kind == train.EventStarted {
			// A deploy that finished while the train was stopped moves the
			// car now.
			if err := db.settleDeploy(ctx, tx, l, now); err != nil {
				return err
			}
		}
		t = l.t
		return db.saveTrain(ctx, tx, l, now)
	})
	return t, ev, err
}

// lockedTrain is a train read for a change, inside its transaction.
type lockedTrain struct {
	t       train.Train
	version int64 // as read
	changes int64 // made since
}

func (db *DB) lockTrain(ctx context.Context, tx *sql.Tx, name string, now time.Time) (*lockedTrain, error) {
	what := "train " + name
	empty, err := train.New(name)
	if err != nil {
		return nil, err
	}
	state, err := json.Marshal(empty)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// The row exists before it is locked: two first joins on two replicas
	// then queue behind the same lock.
	if _, err := tx.ExecContext(ctx, `INSERT INTO trains (name, state, created_at, updated_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (name) DO NOTHING`, name, string(state), toDB(now)); err != nil {
		return nil, dbError(err, what+": create")
	}
	var raw string
	l := &lockedTrain{}
	if err := tx.QueryRowContext(ctx, "SELECT state, version FROM trains WHERE name = $1"+db.d.lockRow, name).Scan(&raw, &l.version); err != nil {
		return nil, dbError(err, what+": read")
	}
	if err := json.Unmarshal([]byte(raw), &l.t); err != nil {
		return nil, gohere.Errorf(gohere.Internal, "%s: state: %w", what, err)
	}
	return l, nil
}

// settleDeploy moves the head car on when the deploy of its stage has
// finished since the last look. The train reads the deploy's status rather
// than being told by the deploy's finish: a finish then needs to know
// nothing of trains, and the idle sweep looks at every train often enough
// that the car moves (and its message goes) soon after.
func (db *DB) settleDeploy(ctx context.Context, tx *sql.Tx, l *lockedTrain, now time.Time) error {
	car, ok := l.t.Head()
	if !ok || car.DeployID == "" {
		return nil
	}
	var status string
	err := tx.QueryRowContext(ctx, "SELECT status FROM deploys WHERE id = $1", car.DeployID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		status = string(gohere.StatusFailed) // deleted: the car cannot go on with it
	} else if err != nil {
		return dbError(err, "train "+l.t.Name+": read deploy "+car.DeployID)
	}
	if ev, ok := l.t.Deployed(car.DeployID, gohere.Status(status), now); ok {
		return db.changed(ctx, tx, l, ev)
	}
	return nil
}

// checkCarDeploy refuses to tie a deploy to the head car unless it is
// recorded, still running and started once the car entered its stage: an
// unknown id would stop the train at the next sweep, and an old deploy
// that finished would move the car with no deploy of its own.
func checkCarDeploy(ctx context.Context, tx *sql.Tx, t *train.Train, id string) error {
	car, ok := t.Head()
	if !ok {
		return gohere.Errorf(gohere.Conflict, "train %s is empty: there is no car to deploy", t.Name)
	}
	var (
		status  string
		started int64
	)
	err := tx.QueryRowContext(ctx, "SELECT status, started_at FROM deploys WHERE id = $1", id).Scan(&status, &started)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return gohere.Errorf(gohere.Invalid, "train %s: deploy %s is not recorded: start it first (gohere deploy start --train %s)", t.Name, id, t.Name)
	case err != nil:
		return dbError(err, "train "+t.Name+": read deploy "+id)
	case gohere.Status(status) != gohere.StatusRunning:
		return gohere.Errorf(gohere.Conflict, "train %s: deploy %s is %s: car %d deploys with a running deploy", t.Name, id, status, car.ID)
	case started < toDB(car.Since):
		return gohere.Errorf(gohere.Conflict, "train %s: deploy %s started at %s, before car %d went %s at %s: it is not the car's deploy",
			t.Name, id, fromDB(started).UTC().Format(time.RFC3339), car.ID, car.State, car.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

// changed counts a change of the train and queues its message.
func (db *DB) changed(ctx context.Context, tx *sql.Tx, l *lockedTrain, ev train.Event) error {
	l.changes++
	if !db.notifying.Load() {
		return nil
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("train %s: message: %w", l.t.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO train_messages (train, seq, event, happened_at, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $5)`, l.t.Name, l.version+l.changes, string(body), toDB(ev.At), toDB(time.Now())); err != nil {
		return dbError(err, "train "+l.t.Name+": queue message")
	}
	return nil
}

func (db *DB) saveTrain(ctx context.Context, tx *sql.Tx, l *lockedTrain, now time.Time) error {
	if l.changes == 0 {
		return nil
	}
	state, err := json.Marshal(l.t)
	if err != nil {
		return fmt.Errorf("train %s: %w", l.t.Name, err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE trains SET state = $1, stopped = $2, version = $3, updated_at = $4 WHERE name = $5",
		string(state), l.t.Stopped, l.version+l.changes, toDB(now), l.t.Name); err != nil {
		return dbError(err, "train "+l.t.Name+": save")
	}
	return nil
}

// Train reads one train; an empty one when nobody joined it yet.
func (db *DB) Train(ctx context.Context, name string) (_ train.Train, err error) {
	if err := train.ValidateName(name); err != nil {
		return train.Train{}, err
	}
	ctx, span := db.start(ctx, "Train", attribute.String("gohere.train", name))
	defer func() { end(span, err) }()
	ts, err := db.readTrains(ctx, false, "WHERE name = $1", name)
	if err != nil || len(ts) == 0 {
		t, _ := train.New(name)
		return t, err
	}
	return ts[0], nil
}

// ListTrains reads every train with someone aboard, by name: what the
// train page and the timeline's "deploying now" show.
func (db *DB) ListTrains(ctx context.Context) (_ []train.Train, err error) {
	ctx, span := db.start(ctx, "ListTrains")
	defer func() { end(span, err) }()
	ts, err := db.readTrains(ctx, true, "")
	return slices.DeleteFunc(ts, func(t train.Train) bool { return len(t.Cars) == 0 && !t.Stopped }), err
}

// readTrains reads the trains where says. With skipBad, a row whose state
// does not read is logged and left out, so that one bad train does not
// take the page and the sweep of every other down; else it is an error.
func (db *DB) readTrains(ctx context.Context, skipBad bool, where string, args ...any) ([]train.Train, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT name, state FROM trains "+where+" ORDER BY name", args...)
	if err != nil {
		return nil, dbError(err, "trains: read")
	}
	defer rows.Close()
	ts := []train.Train{}
	for rows.Next() {
		var name, raw string
		if err := rows.Scan(&name, &raw); err != nil {
			return nil, dbError(err, "trains: read")
		}
		var t train.Train
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			if skipBad {
				slog.ErrorContext(ctx, "train state does not read: left out", "train", name, "err", err)
				continue
			}
			return nil, gohere.Errorf(gohere.Internal, "train %s: state: %w", name, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "trains: read")
	}
	return ts, nil
}

// SweepTrains looks at every train: a head car whose deploy finished moves
// on, and members of a head car who have not answered for idle are moved
// to the next car, each change with its message. It returns how many
// changes it made. Each train is one transaction under its lock, so
// replicas sweeping at once change each thing once. A train that fails is
// logged and the sweep goes on with the others; the error returned is the
// first such failure.
func (db *DB) SweepTrains(ctx context.Context, now time.Time, idle time.Duration, carSize int) (_ int, err error) {
	ctx, span := db.start(ctx, "SweepTrains")
	defer func() { end(span, err) }()
	ts, err := db.ListTrains(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	var first error
	for _, t := range ts {
		if !t.Due(now, idle) {
			continue // read without a lock: nothing to change, no write
		}
		n := 0
		err := db.inTx(ctx, "train "+t.Name+": sweep", func(tx *sql.Tx) error {
			l, err := db.lockTrain(ctx, tx, t.Name, now)
			if err != nil {
				return err
			}
			if err := db.settleDeploy(ctx, tx, l, now); err != nil {
				return err
			}
			for range len(l.t.People()) { // each member moves at most once a sweep
				ev, ok := l.t.Idle(now, idle, carSize)
				if !ok {
					break
				}
				if err := db.changed(ctx, tx, l, ev); err != nil {
					return err
				}
			}
			n = int(l.changes)
			return db.saveTrain(ctx, tx, l, now)
		})
		if err == nil {
			total += n // once committed
		} else {
			slog.ErrorContext(ctx, "train sweep failed: going on with the others", "train", t.Name, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	span.SetAttributes(attribute.Int("gohere.count", total))
	return total, first
}

// TrainMessage is one change of a train waiting to be told. Messages of
// one train are claimed in order.
type TrainMessage struct {
	ID         int64
	Train      string
	Event      train.Event
	Attempts   int
	Delivered  []string // destinations already sent to or given up on
	HappenedAt time.Time
}

// ClaimTrainMessages returns up to limit messages due at now, oldest first,
// at most the earliest pending one per train, and leases them until
// now+lease: the same queue discipline as ClaimNotifications.
func (db *DB) ClaimTrainMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []TrainMessage, err error) {
	ctx, span := db.start(ctx, "ClaimTrainMessages", attribute.Int("gohere.limit", limit))
	defer func() { end(span, err) }()
	if limit <= 0 || lease <= 0 {
		return nil, gohere.Errorf(gohere.Invalid, "train messages claim: limit %d and lease %s must be positive", limit, lease)
	}
	rows, err := db.write.QueryContext(ctx, trainMessageQueue.claimSQL(db, "id, train, event, attempts, delivered, happened_at"),
		toDB(now.Add(lease)), toDB(now), limit)
	if err != nil {
		return nil, dbError(err, "train messages: claim")
	}
	defer rows.Close()
	var ms []TrainMessage
	for rows.Next() {
		var (
			m                TrainMessage
			event, delivered string
			at               int64
		)
		if err := rows.Scan(&m.ID, &m.Train, &event, &m.Attempts, &delivered, &at); err != nil {
			return nil, dbError(err, "train messages: claim")
		}
		if err := json.Unmarshal([]byte(event), &m.Event); err != nil {
			return nil, gohere.Errorf(gohere.Internal, "train message %d: %w", m.ID, err)
		}
		m.Delivered, m.HappenedAt = strings.Fields(delivered), fromDB(at)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "train messages: claim")
	}
	slices.SortFunc(ms, func(a, b TrainMessage) int { return cmp.Compare(a.ID, b.ID) })
	return ms, nil
}

// trainMessageQueue is the train messages' queue: in order per train.
var trainMessageQueue = queue{table: "train_messages", group: "train", what: "train message"}

// MarkTrainMessage records that the message reached destination (one
// word), or was given up on there.
func (db *DB) MarkTrainMessage(ctx context.Context, id int64, destination string) error {
	return trainMessageQueue.mark(ctx, db, id, destination)
}

// CompleteTrainMessage marks the message told everywhere: the train's next
// one may go.
func (db *DB) CompleteTrainMessage(ctx context.Context, id int64, now time.Time) error {
	return trainMessageQueue.complete(ctx, db, id, now)
}

// RetryTrainMessage records a failed attempt: the next one is due at next.
func (db *DB) RetryTrainMessage(ctx context.Context, id int64, next time.Time, lastErr string) error {
	return trainMessageQueue.retry(ctx, db, id, next, lastErr)
}
