package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/gohere/gohere"
)

// List limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
	// MaxIdempotencyKeyLen bounds a client-chosen key.
	MaxIdempotencyKeyLen = 256
)

const deployCols = "id, service, env, version, baseline_version, stage, status, commit_sha, author, merged_by, pr, started_at, finished_at, commit_time"

// Statements of every create, prepared once (see DB.prepare).
const (
	insertDeploySQL = `INSERT INTO deploys (` + deployCols + `, idempotency_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (idempotency_key) DO NOTHING`
	// The status is a literal, not a parameter: only then do the planners of
	// both engines use the partial index deploys_last_succeeded.
	lastSucceededSQL = "SELECT " + deployCols + ` FROM deploys
		WHERE service = $1 AND env = $2 AND started_at < $3 AND status = 'succeeded'
			AND finished_at <= $3 AND version <> $4
		ORDER BY started_at DESC, id DESC LIMIT 1`
)

// maxPreparedChanges: the INSERT of up to this many changes (one text per
// number) is prepared; a longer list, rare, is parsed each time.
const maxPreparedChanges = 16

// errReplay ends a CreateDeploy transaction whose idempotency key was used
// before: nothing is written, the first deploy is returned.
var errReplay = errors.New("idempotency key replayed")

// CreateDeploy records a new deploy, its changes and an outbox entry for its
// annotation, all in one transaction. Empty fields get defaults: ID (UUIDv7),
// Status running, Stage canary, StartedAt now. With a non-empty
// idempotencyKey a repeated call returns the first deploy and created=false;
// the same key for another service, env or version is a Conflict.
func (db *DB) CreateDeploy(ctx context.Context, d gohere.Deploy, idempotencyKey string) (_ gohere.Deploy, created bool, err error) {
	return db.createDeploy(ctx, "CreateDeploy", d, idempotencyKey, nil)
}

// createDeploy is CreateDeploy; also, unless nil, writes more in the same
// transaction once the deploy is in (never on a replay), so that either
// everything is recorded or nothing.
func (db *DB) createDeploy(ctx context.Context, op string, d gohere.Deploy, idempotencyKey string,
	also func(ctx context.Context, tx *sql.Tx, d gohere.Deploy) error) (_ gohere.Deploy, created bool, err error) {
	ctx, span := db.start(ctx, op,
		attribute.String("gohere.service", d.Service), attribute.String("gohere.env", d.Env))
	defer func() { end(span, err) }()

	d, err = newDeploy(d)
	if err != nil {
		return gohere.Deploy{}, false, err
	}
	if len(idempotencyKey) > MaxIdempotencyKeyLen {
		return gohere.Deploy{}, false, gohere.Errorf(gohere.Invalid, "idempotency key is %d bytes long; at most %d", len(idempotencyKey), MaxIdempotencyKeyLen)
	}
	if !utf8.ValidString(idempotencyKey) || strings.ContainsRune(idempotencyKey, 0) {
		return gohere.Deploy{}, false, gohere.Errorf(gohere.Invalid, "idempotency key %q: want UTF-8 text", idempotencyKey)
	}
	span.SetAttributes(attribute.String("gohere.deploy_id", d.ID))
	what := "deploy " + d.ID
	stmts := []string{insertDeploySQL, enqueueSQL}
	if n := len(d.Changes); n > 0 && n <= maxPreparedChanges {
		stmts = append(stmts, insertChangesSQL(n))
	}
	if err := db.prepare(ctx, db.write, stmts...); err != nil {
		return gohere.Deploy{}, false, dbError(err, what)
	}
	var first gohere.Deploy
	err = db.inBatch(ctx, what, func(ctx context.Context, tx *sql.Tx) error {
		var finished sql.NullInt64
		if !d.FinishedAt.IsZero() {
			finished = sql.NullInt64{Int64: toDB(d.FinishedAt), Valid: true}
		}
		res, err := db.exec(ctx, tx, insertDeploySQL,
			d.ID, d.Service, d.Env, d.Version, d.BaselineVersion, string(d.Stage), string(d.Status),
			d.Commit, d.Author, d.MergedBy, d.PR, toDB(d.StartedAt), finished, nullTime(d.CommitTime),
			sql.NullString{String: idempotencyKey, Valid: idempotencyKey != ""})
		if isUniqueViolation(err) {
			return gohere.Errorf(gohere.Conflict, "deploy %s: already exists", d.ID)
		}
		if err != nil {
			return dbError(err, what+": insert")
		}
		if n, err := res.RowsAffected(); err != nil {
			return dbError(err, what+": insert")
		} else if n == 0 {
			// On PostgreSQL the conflicting insert has committed by now (ON
			// CONFLICT waited for it), so this read sees it.
			first, err = getDeploy(ctx, tx, "idempotency_key = $1", idempotencyKey)
			if err != nil {
				return fmt.Errorf("idempotency key %q: %w", idempotencyKey, err)
			}
			return errReplay
		}
		if err := db.insertChanges(ctx, tx, d.ID, d.Changes); err != nil {
			return err
		}
		if also != nil {
			if err := also(ctx, tx, d); err != nil {
				return err
			}
		}
		// A deploy recorded after the fact (already finished: a backfill)
		// is history, not news: the channel hears nothing of it.
		if d.Running() {
			if err := db.notify(ctx, tx, d.ID, NotifyStarted, "", "", d.StartedAt, NotificationFacts{}); err != nil {
				return err
			}
		}
		return db.enqueue(ctx, tx, d.ID)
	})
	switch {
	case errors.Is(err, errReplay):
		if first.Service != d.Service || first.Env != d.Env || first.Version != d.Version {
			return gohere.Deploy{}, false, gohere.Errorf(gohere.Conflict,
				"idempotency key %q was used for deploy %s of %s/%s version %s", idempotencyKey, first.ID, first.Service, first.Env, first.Version)
		}
		if field := differs(first, d); field != "" {
			// A replay must be the same request: silently answering with
			// the first deploy would drop what this one says.
			return gohere.Deploy{}, false, gohere.Errorf(gohere.Conflict,
				"idempotency key %q reused with a different request: its %s differs from deploy %s's", idempotencyKey, field, first.ID)
		}
		span.SetAttributes(attribute.String("gohere.deploy_id", first.ID), attribute.Bool("gohere.replayed", true))
		return first, false, nil
	case err != nil:
		return gohere.Deploy{}, false, err
	}
	return d, true, nil
}

// commitTimeSkew is how far a commit time may lie after the deploy's
// start: the clocks of CI and gohere differ a little.
const commitTimeSkew = 5 * time.Minute

// newDeploy applies the defaults of a new deploy, validates it and rounds its
// times to what the database keeps.
func newDeploy(d gohere.Deploy) (gohere.Deploy, error) {
	if d.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return d, gohere.Errorf(gohere.Internal, "deploy id: %w", err)
		}
		d.ID = id.String()
	} else if err := gohere.ValidateName("deploy id", d.ID); err != nil {
		return d, err
	}
	if d.Status == "" {
		d.Status = gohere.StatusRunning
	}
	if d.Stage == "" {
		d.Stage = gohere.StageCanary
	}
	if d.StartedAt.IsZero() {
		d.StartedAt = time.Now()
	}
	if err := d.Validate(); err != nil {
		return d, err
	}
	if err := validUTF8(d); err != nil {
		return d, err
	}
	switch {
	case d.Status == gohere.StatusRunning && !d.FinishedAt.IsZero():
		return d, gohere.Errorf(gohere.Invalid, "deploy %s: a running deploy has no finish time", d.ID)
	case d.Status != gohere.StatusRunning:
		if _, err := gohere.ParseFinalStatus(string(d.Status)); err != nil {
			return d, err
		}
		if d.FinishedAt.Before(d.StartedAt) {
			return d, gohere.Errorf(gohere.Invalid, "deploy %s: a %s deploy needs a finish time after its start", d.ID, d.Status)
		}
	}
	if !d.CommitTime.IsZero() && d.CommitTime.After(d.StartedAt.Add(commitTimeSkew)) {
		return d, gohere.Errorf(gohere.Invalid, "deploy %s: commit time %s is after its start %s", d.ID,
			d.CommitTime.UTC().Format(time.RFC3339), d.StartedAt.UTC().Format(time.RFC3339))
	}
	d.StartedAt = normTime(d.StartedAt)
	if !d.FinishedAt.IsZero() {
		d.FinishedAt = normTime(d.FinishedAt)
	}
	if !d.CommitTime.IsZero() {
		d.CommitTime = normTime(d.CommitTime)
	}
	if d.Changes == nil {
		d.Changes = []gohere.Change{}
	}
	return d, nil
}

// validUTF8 rejects text PostgreSQL would refuse to store, so that both
// engines accept the same deploys.
func validUTF8(d gohere.Deploy) error {
	fields := []string{d.ID, d.Service, d.Env, d.Version, d.BaselineVersion, d.Commit, d.Author, d.MergedBy, d.PR}
	for _, c := range d.Changes {
		fields = append(fields, c.Commit, c.Author, c.Title)
	}
	for _, f := range fields {
		if !utf8.ValidString(f) {
			return gohere.Errorf(gohere.Invalid, "deploy: %q is not valid UTF-8", f)
		}
	}
	return nil
}

func (db *DB) insertChanges(ctx context.Context, tx *sql.Tx, id string, changes []gohere.Change) error {
	if len(changes) == 0 {
		return nil
	}
	args := make([]any, 0, changeCols*len(changes))
	for i, c := range changes {
		args = append(args, id, i, c.Commit, c.Author, c.Title)
	}
	if _, err := db.exec(ctx, tx, insertChangesSQL(len(changes)), args...); err != nil {
		return dbError(err, "deploy "+id+": insert changes")
	}
	return nil
}

const changeCols = 5

// insertChangesSQL inserts n changes: one statement, one round trip.
func insertChangesSQL(n int) string {
	return "INSERT INTO deploy_changes (deploy_id, pos, commit_sha, author, title) VALUES " + rowsOf(n, changeCols)
}

// rowsOf returns n placeholder tuples of width cols: ($1, $2), ($3, $4), ...
func rowsOf(n, cols int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		b.WriteString(params(i*cols+1, cols))
		b.WriteByte(')')
	}
	return b.String()
}

// params returns n placeholders from $first on: $1, $2, ...
func params(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}

// GetDeploy returns one deploy with its changes.
func (db *DB) GetDeploy(ctx context.Context, id string) (_ gohere.Deploy, err error) {
	if err := checkID("deploy", id); err != nil {
		return gohere.Deploy{}, err
	}
	ctx, span := db.start(ctx, "GetDeploy", attribute.String("gohere.deploy_id", id))
	defer func() { end(span, err) }()
	return getDeploy(ctx, db.read, "id = $1", id)
}

// getDeploy reads the one deploy matching where (with a single $1 argument).
func getDeploy(ctx context.Context, q querier, where string, arg any) (gohere.Deploy, error) {
	d, err := scanDeploy(q.QueryRowContext(ctx, "SELECT "+deployCols+" FROM deploys WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return d, gohere.Errorf(gohere.NotFound, "deploy %v: not found", arg)
	}
	if err != nil {
		return d, dbError(err, fmt.Sprintf("deploy %v: read", arg))
	}
	ds := []gohere.Deploy{d}
	if err := loadChanges(ctx, q, ds); err != nil {
		return d, err
	}
	if err := loadJudgements(ctx, q, ds); err != nil {
		return d, err
	}
	return ds[0], nil
}

type scanner interface{ Scan(dest ...any) error }

// deployExists is nil for a recorded deploy, NotFound for an unknown one.
func deployExists(ctx context.Context, q querier, id string) error {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM deploys WHERE id = $1", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return gohere.Errorf(gohere.NotFound, "deploy %s: not found", id)
	}
	if err != nil {
		return dbError(err, "read deploy "+id)
	}
	return nil
}

func scanDeploy(s scanner) (gohere.Deploy, error) {
	var (
		d             gohere.Deploy
		stage, status string
		started       int64
		finished      sql.NullInt64
		committed     sql.NullInt64
	)
	err := s.Scan(&d.ID, &d.Service, &d.Env, &d.Version, &d.BaselineVersion, &stage, &status,
		&d.Commit, &d.Author, &d.MergedBy, &d.PR, &started, &finished, &committed)
	if err != nil {
		return d, err
	}
	d.Stage, d.Status = gohere.Stage(stage), gohere.Status(status)
	d.StartedAt = fromDB(started)
	if finished.Valid {
		d.FinishedAt = fromDB(finished.Int64)
	}
	if committed.Valid {
		d.CommitTime = fromDB(committed.Int64)
	}
	d.Changes = []gohere.Change{}
	return d, nil
}

// byID indexes ds by id and lists the ids as query arguments.
func byID(ds []gohere.Deploy) (map[string]int, []any) {
	at := make(map[string]int, len(ds))
	args := make([]any, len(ds))
	for i, d := range ds {
		at[d.ID] = i
		args[i] = d.ID
	}
	return at, args
}

// loadChanges fills in the changes of ds, in their recorded order.
func loadChanges(ctx context.Context, q querier, ds []gohere.Deploy) error {
	if len(ds) == 0 {
		return nil
	}
	at, args := byID(ds)
	rows, err := q.QueryContext(ctx, "SELECT deploy_id, commit_sha, author, title FROM deploy_changes WHERE deploy_id IN ("+
		params(1, len(ds))+") ORDER BY deploy_id, pos", args...)
	if err != nil {
		return dbError(err, "deploy changes: read")
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var c gohere.Change
		if err := rows.Scan(&id, &c.Commit, &c.Author, &c.Title); err != nil {
			return dbError(err, "deploy changes: read")
		}
		i := at[id]
		ds[i].Changes = append(ds[i].Changes, c)
	}
	if err := rows.Err(); err != nil {
		return dbError(err, "deploy changes: read")
	}
	return nil
}

// ListDeploys returns the deploys matching f, newest first (by start,
// then id). Since is inclusive, Until exclusive; Before pages on. Limit 0
// means DefaultListLimit; more than MaxListLimit is cut to MaxListLimit.
func (db *DB) ListDeploys(ctx context.Context, f gohere.DeployFilter) (_ []gohere.Deploy, err error) {
	if err := checkFilter("service", f.Service, "env", f.Env, "status", string(f.Status)); err != nil {
		return nil, err
	}
	if f.Before != nil {
		if err := checkFilter("before", f.Before.ID); err != nil {
			return nil, err
		}
	}
	ctx, span := db.start(ctx, "ListDeploys",
		attribute.String("gohere.service", f.Service), attribute.String("gohere.env", f.Env))
	defer func() { end(span, err) }()
	if f.Limit, err = listLimit(f.Limit); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Service != "" {
		add("service = ?", f.Service)
	}
	if f.Env != "" {
		add("env = ?", f.Env)
	}
	if !f.Since.IsZero() {
		add("started_at >= ?", toDB(f.Since))
	}
	if !f.Until.IsZero() {
		add("started_at < ?", toDB(f.Until))
	}
	switch f.Status {
	case "":
	case gohere.StatusRunning:
		// A literal, not a parameter: then both planners use the partial
		// index deploys_running, a few rows among a million.
		where = append(where, "status = 'running'")
	default:
		add("status = ?", string(f.Status))
	}
	if b := f.Before; b != nil {
		// Ties of the start are ordered by id, so that a page ends where
		// the next begins; the first term bounds the index range.
		add("started_at <= ?", toDB(b.StartedAt))
		n := "$" + strconv.Itoa(len(args))
		add("(started_at < "+n+" OR id < ?)", b.ID)
	}
	query := "SELECT " + deployCols + " FROM deploys"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	query += " ORDER BY started_at DESC, id DESC LIMIT $" + strconv.Itoa(len(args))
	ds, err := queryDeploys(ctx, db.read, query, args...)
	span.SetAttributes(attribute.Int("gohere.count", len(ds)))
	return ds, err
}

func queryDeploys(ctx context.Context, q querier, query string, args ...any) ([]gohere.Deploy, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	return readDeploys(ctx, q, rows, err)
}

// collect scans every row of rows with scan and closes them; what names
// the read in errors.
func collect[T any](rows *sql.Rows, what string, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, dbError(err, what)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return out, nil
}

// readDeploys reads the deploys of a query's result and then their changes
// through q.
func readDeploys(ctx context.Context, q querier, rows *sql.Rows, err error) ([]gohere.Deploy, error) {
	if err != nil {
		return nil, dbError(err, "deploys: list")
	}
	ds, err := collect(rows, "deploys: list", scanDeploy)
	if err != nil {
		return nil, err
	}
	if err := loadChanges(ctx, q, ds); err != nil {
		return nil, err
	}
	if err := loadJudgements(ctx, q, ds); err != nil {
		return nil, err
	}
	return ds, nil
}

// LastSucceeded returns the default baseline of a deploy of version that
// starts at `before`: the newest deploy of service in env, of another
// version, that finished succeeded by then (compare.ChooseBaseline's rule).
// Comparing a version with itself would pass any canary.
func (db *DB) LastSucceeded(ctx context.Context, service, env, version string, before time.Time) (_ gohere.Deploy, found bool, err error) {
	if err := checkFilter("service", service, "env", env, "version", version); err != nil {
		return gohere.Deploy{}, false, err
	}
	ctx, span := db.start(ctx, "LastSucceeded",
		attribute.String("gohere.service", service), attribute.String("gohere.env", env))
	defer func() { end(span, err) }()
	if err := db.prepare(ctx, db.read, lastSucceededSQL); err != nil {
		return gohere.Deploy{}, false, dbError(err, "deploys: last succeeded")
	}
	rows, err := db.query(ctx, db.read, lastSucceededSQL, service, env, toDB(before), version)
	ds, err := readDeploys(ctx, db.read, rows, err)
	if err != nil || len(ds) == 0 {
		return gohere.Deploy{}, false, err
	}
	return ds[0], true, nil
}

// FinishDeploy closes a running deploy with a final status and enqueues the
// update of its annotation, in one transaction. A deploy finished before is a
// Conflict, except that a deploy halted by a decision may be finished again
// as halted, failed or rolled_back (keeping its finish time): the pipeline
// that was stopped reports how it ended. An unknown deploy is NotFound.
func (db *DB) FinishDeploy(ctx context.Context, id string, status gohere.Status, at time.Time) (_ gohere.Deploy, err error) {
	if err := checkID("deploy", id); err != nil {
		return gohere.Deploy{}, err
	}
	ctx, span := db.start(ctx, "FinishDeploy",
		attribute.String("gohere.deploy_id", id), attribute.String("gohere.status", string(status)))
	defer func() { end(span, err) }()
	if _, err := gohere.ParseFinalStatus(string(status)); err != nil {
		return gohere.Deploy{}, err
	}
	if at.IsZero() {
		return gohere.Deploy{}, gohere.Errorf(gohere.Invalid, "deploy %s: finish time is required", id)
	}
	what := "deploy " + id
	if err := db.prepare(ctx, db.write, enqueueSQL); err != nil {
		return gohere.Deploy{}, dbError(err, what)
	}
	var d gohere.Deploy
	err = db.inBatch(ctx, what, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE deploys SET status = $1, finished_at = $2
			WHERE id = $3 AND status = $4 AND started_at <= $2`,
			string(status), toDB(at), id, string(gohere.StatusRunning))
		if err != nil {
			return dbError(err, what+": finish")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbError(err, what+": finish")
		}
		if d, err = getDeploy(ctx, tx, "id = $1", id); err != nil {
			return err
		}
		if n == 0 {
			if haltedByDecision(ctx, tx, d) && status != gohere.StatusSucceeded {
				// The pipeline finishing what a human halted (rolled back,
				// say): its word on how it ended is the more precise one.
				if _, err := tx.ExecContext(ctx, "UPDATE deploys SET status = $1 WHERE id = $2", string(status), id); err != nil {
					return dbError(err, what+": finish")
				}
				if status == d.Status {
					return nil // the pipeline agrees with the halt: nothing new
				}
				d.Status = status
				return db.finished(ctx, tx, d, at)
			}
			if !d.Running() {
				return gohere.Errorf(gohere.Conflict, "deploy %s: already finished (%s)", id, d.Status)
			}
			return gohere.Errorf(gohere.Invalid, "deploy %s: finish time %s is before its start %s",
				id, at.UTC().Format(time.RFC3339Nano), d.StartedAt.Format(time.RFC3339Nano))
		}
		return db.finished(ctx, tx, d, at)
	})
	if err != nil {
		return gohere.Deploy{}, err
	}
	return d, nil
}

// finished queues the annotation and the notification of a deploy that
// just finished (or whose halt the pipeline finished as d.Status).
func (db *DB) finished(ctx context.Context, tx *sql.Tx, d gohere.Deploy, at time.Time) error {
	if err := db.notify(ctx, tx, d.ID, NotifyFinished, "", string(d.Status), at, NotificationFacts{Status: d.Status}); err != nil {
		return err
	}
	return db.enqueue(ctx, tx, d.ID)
}

// haltedByDecision reports whether d was finished by a halt decision.
func haltedByDecision(ctx context.Context, q querier, d gohere.Deploy) bool {
	if d.Status != gohere.StatusHalted {
		return false
	}
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM decisions WHERE deploy_id = $1 AND kind = $2 LIMIT 1",
		d.ID, string(gohere.DecisionHalt)).Scan(&one)
	return err == nil
}

// differs names the first field a client supplied that is not the same in
// d as in the deploy first recorded with its idempotency key; "" when none
// is. The baseline is left out: the server may fill it in.
func differs(first, d gohere.Deploy) string {
	switch {
	case first.Stage != d.Stage:
		return "stage"
	case first.Commit != d.Commit:
		return "commit"
	case first.Author != d.Author:
		return "author"
	case first.MergedBy != d.MergedBy:
		return "merged_by"
	case first.PR != d.PR:
		return "pr"
	case !first.CommitTime.Equal(d.CommitTime):
		return "commit_time"
	case !slices.Equal(first.Changes, d.Changes):
		return "changes"
	}
	return ""
}
