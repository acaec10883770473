package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gohere/gohere"
)

// OutboxEntry asks for the deploy's Grafana annotation to be made to reflect
// the deploy's current state. Delivery is idempotent, so a worker may
// collapse several entries of one deploy into one write.
type OutboxEntry struct {
	ID            int64
	DeployID      string
	Attempts      int // failed attempts so far
	CreatedAt     time.Time
	NextAttemptAt time.Time // after a claim: when the lease ends
	LastError     string
}

// maxLastError bounds the error text kept per entry.
const maxLastError = 2048

const enqueueSQL = "INSERT INTO outbox (deploy_id, created_at, next_attempt_at) VALUES ($1, $2, $2)"

// enqueue adds an outbox entry for the deploy, inside the caller's transaction.
func (db *DB) enqueue(ctx context.Context, tx *sql.Tx, deployID string) error {
	now := toDB(time.Now())
	if _, err := db.exec(ctx, tx, enqueueSQL, deployID, now); err != nil {
		return dbError(err, "deploy "+deployID+": enqueue annotation")
	}
	return nil
}

// ClaimOutbox leases the entries of up to limit deploys until now+lease:
// every entry of a deploy whose oldest entry is due at now, oldest deploys
// first. A deploy is thus delivered by one worker of one replica at a
// time, in order: while any of its entries is leased (or waits for a
// retry) no other claim takes its later ones, which would race the first
// to create its annotation. An entry whose worker died becomes due again
// when its lease ends.
func (db *DB) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []OutboxEntry, err error) {
	ctx, span := db.start(ctx, "ClaimOutbox", attribute.Int("gohere.limit", limit))
	defer func() { end(span, err) }()
	if limit <= 0 || lease <= 0 {
		return nil, gohere.Errorf(gohere.Invalid, "outbox claim: limit %d and lease %s must be positive", limit, lease)
	}
	// The oldest entry of a deploy stands for it: claimers lock it, so on
	// PostgreSQL SKIP LOCKED lets concurrent claimers pass each other's
	// deploys, and a later entry is never a deploy's oldest while an
	// earlier one exists. On SQLite the single writer serialises claims.
	rows, err := db.write.QueryContext(ctx, `UPDATE outbox SET next_attempt_at = $1
		WHERE deploy_id IN (SELECT o.deploy_id FROM outbox o
			WHERE o.next_attempt_at <= $2
				AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.deploy_id = o.deploy_id AND p.id < o.id)
			ORDER BY o.id LIMIT $3`+db.d.lockRows+`)
		RETURNING id, deploy_id, attempts, created_at, next_attempt_at, last_error`,
		toDB(now.Add(lease)), toDB(now), limit)
	if err != nil {
		return nil, dbError(err, "outbox: claim")
	}
	defer rows.Close()
	var es []OutboxEntry
	for rows.Next() {
		var e OutboxEntry
		var created, next int64
		if err := rows.Scan(&e.ID, &e.DeployID, &e.Attempts, &created, &next, &e.LastError); err != nil {
			return nil, dbError(err, "outbox: claim")
		}
		e.CreatedAt, e.NextAttemptAt = fromDB(created), fromDB(next)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "outbox: claim")
	}
	// RETURNING does not keep the subquery's order.
	slices.SortFunc(es, func(a, b OutboxEntry) int { return cmp.Compare(a.ID, b.ID) })
	span.SetAttributes(attribute.Int("gohere.count", len(es)))
	return es, nil
}

// CompleteOutbox removes a delivered entry and records the deploy's Grafana
// annotation id, in one transaction. An entry already gone (another worker
// delivered it after this one's lease ended) is not an error: delivery is
// idempotent. An unknown deploy is NotFound.
func (db *DB) CompleteOutbox(ctx context.Context, entryID int64, deployID string, annotationID int64) (err error) {
	ctx, span := db.start(ctx, "CompleteOutbox", attribute.Int64("gohere.outbox_id", entryID),
		attribute.String("gohere.deploy_id", deployID), attribute.Int64("gohere.annotation_id", annotationID))
	defer func() { end(span, err) }()
	if annotationID <= 0 {
		return gohere.Errorf(gohere.Invalid, "deploy %s: annotation id %d must be positive", deployID, annotationID)
	}
	what := "deploy " + deployID
	return db.inTx(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE deploys SET annotation_id = $1 WHERE id = $2", annotationID, deployID)
		if err != nil {
			return dbError(err, what+": record annotation")
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbError(err, what+": record annotation")
		} else if n == 0 {
			return gohere.Errorf(gohere.NotFound, "deploy %s: not found", deployID)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM outbox WHERE id = $1 AND deploy_id = $2", entryID, deployID); err != nil {
			return dbError(err, what+": complete outbox entry")
		}
		return nil
	})
}

// RetryOutbox records a failed delivery: one more attempt, the next one due
// at next, and why it failed. An entry already gone is NotFound.
func (db *DB) RetryOutbox(ctx context.Context, entryID int64, next time.Time, lastErr string) (err error) {
	ctx, span := db.start(ctx, "RetryOutbox", attribute.Int64("gohere.outbox_id", entryID))
	defer func() { end(span, err) }()
	res, err := db.write.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
		WHERE id = $3`, toDB(next), cleanText(lastErr, maxLastError), entryID)
	if err != nil {
		return dbError(err, "outbox entry: retry")
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError(err, "outbox entry: retry")
	} else if n == 0 {
		return gohere.Errorf(gohere.NotFound, "outbox entry %d: not found", entryID)
	}
	return nil
}

// cleanText makes an arbitrary message storable on both engines: valid
// UTF-8 (PostgreSQL rejects anything else), no NUL, at most limit bytes.
func cleanText(s string, limit int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "")
}

// OutboxStats returns how many annotation entries wait for delivery and how
// long the oldest has waited at now (0 when none).
func (db *DB) OutboxStats(ctx context.Context, now time.Time) (pending int, oldest time.Duration, err error) {
	return db.pendingStats(ctx, "OutboxStats", "SELECT COUNT(*), MIN(created_at) FROM outbox", now)
}

// NotificationStats is OutboxStats of the push channel's notifications.
func (db *DB) NotificationStats(ctx context.Context, now time.Time) (pending int, oldest time.Duration, err error) {
	return db.pendingStats(ctx, "NotificationStats", "SELECT COUNT(*), MIN(created_at) FROM notifications WHERE done_at IS NULL", now)
}

func (db *DB) pendingStats(ctx context.Context, op, query string, now time.Time) (pending int, oldest time.Duration, err error) {
	ctx, span := db.start(ctx, op)
	defer func() { end(span, err) }()
	var first sql.NullInt64
	if err := db.read.QueryRowContext(ctx, query).Scan(&pending, &first); err != nil {
		return 0, 0, dbError(err, op)
	}
	if first.Valid {
		oldest = max(0, now.Sub(fromDB(first.Int64)))
	}
	return pending, oldest, nil
}

// AnnotationID returns the deploy's Grafana annotation id, 0 while none has
// been recorded. An unknown deploy is NotFound.
func (db *DB) AnnotationID(ctx context.Context, deployID string) (_ int64, err error) {
	if err := checkID("deploy", deployID); err != nil {
		return 0, err
	}
	ctx, span := db.start(ctx, "AnnotationID", attribute.String("gohere.deploy_id", deployID))
	defer func() { end(span, err) }()
	var id int64
	err = db.read.QueryRowContext(ctx, "SELECT annotation_id FROM deploys WHERE id = $1", deployID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, gohere.Errorf(gohere.NotFound, "deploy %s: not found", deployID)
	}
	if err != nil {
		return 0, dbError(err, "deploy "+deployID+": annotation id")
	}
	return id, nil
}
