package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gohere/gohere"
)

// queue is the discipline the chat queues share (notifications per
// deploy, train messages per train): a row is claimed only when no earlier
// row of its group is pending, leased by moving its next_attempt_at, marked
// per destination reached, and done once every destination had it.
type queue struct {
	table string // with the columns id, next_attempt_at, attempts, last_error, delivered, done_at
	group string // the column whose rows go in order
	what  string // a row, in errors: "notification", "train message"
}

// claimSQL leases up to $3 rows due at $2 until $1 and returns cols of
// them; on PostgreSQL, SKIP LOCKED lets concurrent claimers pass.
func (q queue) claimSQL(db *DB, cols string) string {
	return `UPDATE ` + q.table + ` SET next_attempt_at = $1
		WHERE id IN (SELECT n.id FROM ` + q.table + ` n
			WHERE n.done_at IS NULL AND n.next_attempt_at <= $2
				AND NOT EXISTS (SELECT 1 FROM ` + q.table + ` p WHERE p.` + q.group + ` = n.` + q.group + ` AND p.done_at IS NULL AND p.id < n.id)
			ORDER BY n.id LIMIT $3` + db.d.lockRows + `)
		RETURNING ` + cols
}

// mark records that row id reached destination (or was given up on
// there), so that no retry sends it there again. destination must be one
// word.
func (q queue) mark(ctx context.Context, db *DB, id int64, destination string) error {
	if destination == "" || strings.ContainsAny(destination, " \t\r\n") {
		return gohere.Errorf(gohere.Invalid, "%s %d: destination %q must be one word", q.what, id, destination)
	}
	res, err := db.write.ExecContext(ctx, "UPDATE "+q.table+" SET delivered = delivered || $1 WHERE id = $2", destination+"\n", id)
	return affectedOne(res, err, fmt.Sprintf("%s %d", q.what, id))
}

// complete marks row id told everywhere: its group's next one may go. A
// row done already (another worker finished it after this one's lease
// ended) is no error.
func (q queue) complete(ctx context.Context, db *DB, id int64, now time.Time) error {
	res, err := db.write.ExecContext(ctx, "UPDATE "+q.table+" SET done_at = $1, last_error = '' WHERE id = $2 AND done_at IS NULL",
		toDB(now), id)
	if err := affectedOne(res, err, fmt.Sprintf("%s %d", q.what, id)); gohere.KindOf(err) != gohere.NotFound {
		return err
	}
	return nil
}

// retry records a failed attempt of row id: the next one is due at next.
func (q queue) retry(ctx context.Context, db *DB, id int64, next time.Time, lastErr string) error {
	res, err := db.write.ExecContext(ctx, "UPDATE "+q.table+` SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
		WHERE id = $3 AND done_at IS NULL`, toDB(next), cleanText(lastErr, maxLastError), id)
	return affectedOne(res, err, fmt.Sprintf("%s %d", q.what, id))
}
