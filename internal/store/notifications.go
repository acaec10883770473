package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gohere/gohere"
)

// The state changes the push channel tells, as notifications.kind.
const (
	NotifyStarted  = "started"
	NotifyFailing  = "failing"
	NotifyVerdict  = "verdict"
	NotifyDecided  = "decided"
	NotifyFinished = "finished"
)

// Notification is one state change of a deploy waiting to be told. Rows of
// one deploy are claimed in order: a later one only once every earlier one
// is done.
type Notification struct {
	ID         int64
	DeployID   string
	Key        string // unique per deploy: "<kind>[/<analysis id>[/<detail>]]"
	Kind       string
	AnalysisID string // "" for started and finished
	Facts      NotificationFacts
	HappenedAt time.Time
	Attempts   int      // failed attempts so far
	Delivered  []string // destinations already sent to or given up on
	// NextAttemptAt: after a claim, when the lease ends.
	NextAttemptAt time.Time
}

// NotificationFacts is what belongs to the moment of the change, which the
// deploy read at delivery may no longer show.
type NotificationFacts struct {
	Status   gohere.Status    `json:"status,omitempty"`   // finished
	Decision *gohere.Decision `json:"decision,omitempty"` // decided
	Seq      int              `json:"seq,omitempty"`      // failing, verdict: the interval
	State    AnalysisState    `json:"state,omitempty"`    // verdict: how the run ended
	Verdict  gohere.Verdict   `json:"verdict,omitempty"`  // failing, verdict
	Score    float64          `json:"score"`
	AlertID  int64            `json:"alert_id,omitempty"` // alert
}

// EnableNotifications makes state changes queue notifications from now on.
// A server without a chat destination leaves it off: nothing piles up that
// would flood a channel configured later.
func (db *DB) EnableNotifications() { db.notifying.Store(true) }

// notify queues a notification inside the caller's transaction. A key
// already queued for the deploy is not queued again: each state change is
// told once, however many paths reach it.
func (db *DB) notify(ctx context.Context, tx *sql.Tx, deployID, kind, analysisID, detail string, at time.Time, f NotificationFacts) error {
	if !db.notifying.Load() {
		return nil
	}
	key := kind
	for _, part := range []string{analysisID, detail} {
		if part != "" {
			key += "/" + part
		}
	}
	facts, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("deploy %s: notification %s: %w", deployID, key, err)
	}
	now := toDB(time.Now())
	if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (deploy_id, event_key, kind, analysis_id, facts, happened_at, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (deploy_id, event_key) DO NOTHING`,
		deployID, key, kind, analysisID, string(facts), toDB(at), now); err != nil {
		return dbError(err, "deploy "+deployID+": queue notification "+key)
	}
	return nil
}

const notificationCols = "id, deploy_id, event_key, kind, analysis_id, facts, happened_at, attempts, delivered, next_attempt_at"

// ClaimNotifications returns up to limit notifications due at now, oldest
// first, at most the earliest pending one per deploy (so that a deploy's
// messages arrive in order), and leases them until now+lease.
func (db *DB) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []Notification, err error) {
	ctx, span := db.start(ctx, "ClaimNotifications", attribute.Int("gohere.limit", limit))
	defer func() { end(span, err) }()
	if limit <= 0 || lease <= 0 {
		return nil, gohere.Errorf(gohere.Invalid, "notifications claim: limit %d and lease %s must be positive", limit, lease)
	}
	// An earlier pending row, due or leased, holds back the deploy's later
	// ones.
	rows, err := db.write.QueryContext(ctx, notificationQueue.claimSQL(db, notificationCols), toDB(now.Add(lease)), toDB(now), limit)
	if err != nil {
		return nil, dbError(err, "notifications: claim")
	}
	defer rows.Close()
	var ns []Notification
	for rows.Next() {
		var n Notification
		if err := scanNotification(rows, &n); err != nil {
			return nil, fmt.Errorf("notifications: claim: %w", err)
		}
		ns = append(ns, n)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "notifications: claim")
	}
	slices.SortFunc(ns, func(a, b Notification) int { return cmp.Compare(a.ID, b.ID) })
	span.SetAttributes(attribute.Int("gohere.count", len(ns)))
	return ns, nil
}

// scanNotification reads the notificationCols of a row into n, and the
// columns after them into more.
func scanNotification(s scanner, n *Notification, more ...any) error {
	var (
		facts, delivered  string
		happened, nextDue int64
	)
	dest := append([]any{&n.ID, &n.DeployID, &n.Key, &n.Kind, &n.AnalysisID, &facts, &happened, &n.Attempts, &delivered, &nextDue}, more...)
	if err := s.Scan(dest...); err != nil {
		return dbError(err, "read")
	}
	if err := json.Unmarshal([]byte(facts), &n.Facts); err != nil {
		return fmt.Errorf("notification %d: facts: %w", n.ID, err)
	}
	n.HappenedAt, n.NextAttemptAt = fromDB(happened), fromDB(nextDue)
	n.Delivered = strings.Fields(delivered)
	return nil
}

// notificationQueue is the notifications' queue: in order per deploy.
var notificationQueue = queue{table: "notifications", group: "deploy_id", what: "notification"}

// MarkNotified records that the notification reached destination (or was
// given up on there), so that no retry sends it there again. destination
// must be one word.
func (db *DB) MarkNotified(ctx context.Context, id int64, destination string) (err error) {
	ctx, span := db.start(ctx, "MarkNotified", attribute.Int64("gohere.notification_id", id))
	defer func() { end(span, err) }()
	return notificationQueue.mark(ctx, db, id, destination)
}

// CompleteNotification marks the notification told everywhere: the
// deploy's next one may go.
func (db *DB) CompleteNotification(ctx context.Context, id int64, now time.Time) (err error) {
	ctx, span := db.start(ctx, "CompleteNotification", attribute.Int64("gohere.notification_id", id))
	defer func() { end(span, err) }()
	return notificationQueue.complete(ctx, db, id, now)
}

// RetryNotification records a failed attempt: the next one is due at next.
func (db *DB) RetryNotification(ctx context.Context, id int64, next time.Time, lastErr string) (err error) {
	ctx, span := db.start(ctx, "RetryNotification", attribute.Int64("gohere.notification_id", id))
	defer func() { end(span, err) }()
	return notificationQueue.retry(ctx, db, id, next, lastErr)
}

// affectedOne turns an update's outcome into an error: NotFound when it
// matched no row.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return dbError(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(err, what)
	}
	if n == 0 {
		return gohere.Errorf(gohere.NotFound, "%s: not found", what)
	}
	return nil
}

// SentNotification is a notification as the record keeps it.
type SentNotification struct {
	Notification
	DoneAt    time.Time // zero while pending
	LastError string
}

// ListNotifications returns the deploy's notifications, oldest first.
func (db *DB) ListNotifications(ctx context.Context, deployID string) (_ []SentNotification, err error) {
	if err := checkID("deploy", deployID); err != nil {
		return nil, err
	}
	ctx, span := db.start(ctx, "ListNotifications", attribute.String("gohere.deploy_id", deployID))
	defer func() { end(span, err) }()
	rows, err := db.read.QueryContext(ctx, "SELECT "+notificationCols+", done_at, last_error FROM notifications WHERE deploy_id = $1 ORDER BY id", deployID)
	if err != nil {
		return nil, dbError(err, "deploy "+deployID+": notifications")
	}
	defer rows.Close()
	var out []SentNotification
	for rows.Next() {
		var n SentNotification
		var done sql.NullInt64
		if err := scanNotification(rows, &n.Notification, &done, &n.LastError); err != nil {
			return nil, fmt.Errorf("deploy %s: notifications: %w", deployID, err)
		}
		if done.Valid {
			n.DoneAt = fromDB(done.Int64)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "deploy "+deployID+": notifications")
	}
	return out, nil
}

// IntervalReport returns the judge report (JSON) of one interval of an
// analysis; empty when the interval was not judged (an error).
func (db *DB) IntervalReport(ctx context.Context, analysisID string, seq int) (_ []byte, err error) {
	if err := checkID("analysis", analysisID); err != nil {
		return nil, err
	}
	ctx, span := db.start(ctx, "IntervalReport", attribute.String("gohere.analysis_id", analysisID), attribute.Int("gohere.seq", seq))
	defer func() { end(span, err) }()
	var report string
	err = db.read.QueryRowContext(ctx, "SELECT report FROM analysis_intervals WHERE analysis_id = $1 AND seq = $2", analysisID, seq).Scan(&report)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gohere.Errorf(gohere.NotFound, "analysis %s: interval %d: not found", analysisID, seq)
	}
	if err != nil {
		return nil, dbError(err, fmt.Sprintf("analysis %s: interval %d", analysisID, seq))
	}
	return []byte(report), nil
}
