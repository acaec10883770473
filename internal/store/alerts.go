package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gohere/gohere"
)

// NotifyAlert is the notifications.kind of a correlated alert.
const NotifyAlert = "alert"

// Correlator ranks the deploys that may have caused an alert
// (annotate.Correlate).
type Correlator func(a gohere.Alert, candidates []gohere.Deploy, window time.Duration) []gohere.Correlation

// maxCandidates bounds the deploys an alert is correlated with: of one
// service and env, running or finished within the window, there are few.
const maxCandidates = 50

// RecordedAlert is an alert as RecordAlerts left it.
type RecordedAlert struct {
	gohere.Alert
	// New: first seen now (a resend or a resolution of a known alert is
	// not); only a new alert is correlated and told.
	New bool
}

// RecordAlerts stores a batch of alerts (one webhook call) in one
// transaction: all or none. A new alert is correlated with the deploys of
// its service and env that ran around its start (within window), and a
// correlated one queues its Grafana annotation and a notification to the
// top deploy's channel. A known alert (same source, fingerprint and start)
// is updated (status, end); its annotation is queued again when it
// resolves, and nothing is told twice.
func (db *DB) RecordAlerts(ctx context.Context, alerts []gohere.Alert, window time.Duration, correlate Correlator) (_ []RecordedAlert, err error) {
	ctx, span := db.start(ctx, "RecordAlerts", attribute.Int("gohere.count", len(alerts)))
	defer func() { end(span, err) }()
	for i, a := range alerts {
		if err := validAlert(a); err != nil {
			return nil, fmt.Errorf("alerts[%d]: %w", i, err)
		}
	}
	now := time.Now()
	out := make([]RecordedAlert, len(alerts))
	err = db.inTx(ctx, "alerts", func(tx *sql.Tx) error {
		for i, a := range alerts {
			r, err := db.recordAlert(ctx, tx, a, now, window, correlate)
			if err != nil {
				return fmt.Errorf("alert %s %s: %w", a.Source, a.Fingerprint, err)
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func validAlert(a gohere.Alert) error {
	var problems []string
	if a.Source == "" || a.Fingerprint == "" || a.Name == "" {
		problems = append(problems, "source, fingerprint and name are required")
	}
	if a.StartsAt.IsZero() {
		problems = append(problems, "startsAt is required")
	}
	if a.Status != gohere.AlertFiring && a.Status != gohere.AlertResolved {
		problems = append(problems, fmt.Sprintf("status %q: want firing or resolved", a.Status))
	}
	if !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		problems = append(problems, "endsAt is before startsAt")
	}
	if len(problems) > 0 {
		return gohere.Errorf(gohere.Invalid, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// Limits of what an alert keeps; longer text is cut.
const (
	maxAlertText   = 2048
	maxAlertLabels = 16 << 10 // the labels as JSON
)

func (db *DB) recordAlert(ctx context.Context, tx *sql.Tx, a gohere.Alert, now time.Time, window time.Duration, correlate Correlator) (RecordedAlert, error) {
	labels, err := json.Marshal(a.Labels)
	if err != nil || len(labels) > maxAlertLabels {
		return RecordedAlert{}, gohere.Errorf(gohere.Invalid, "labels: more than %d bytes of JSON", maxAlertLabels)
	}
	ends := nullTime(a.EndsAt)
	if a.Status == gohere.AlertFiring {
		ends = sql.NullInt64{} // Alertmanager sends a future endsAt while firing: its expiry, not an end
	}
	var (
		id       int64
		status   string
		endsWas  sql.NullInt64
		received int64
	)
	err = tx.QueryRowContext(ctx, `SELECT id, status, ends_at, received_at FROM alerts WHERE source = $1 AND fingerprint = $2 AND starts_at = $3`+db.d.lockRow,
		a.Source, a.Fingerprint, toDB(a.StartsAt)).Scan(&id, &status, &endsWas, &received)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return db.insertAlert(ctx, tx, a, string(labels), ends, now, window, correlate)
	case err != nil:
		return RecordedAlert{}, dbError(err, "read")
	}
	if status != string(a.Status) || endsWas != ends {
		// Resolved (or firing again within the same start): the record
		// and, if it has one, the annotation's end follow.
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET status = $1, ends_at = $2, updated_at = $3,
			annotation_due_at = CASE WHEN annotation_id <> 0 OR annotation_due_at IS NOT NULL THEN CAST($4 AS BIGINT) ELSE NULL END
			WHERE id = $5`, string(a.Status), ends, toDB(now), toDB(now), id); err != nil {
			return RecordedAlert{}, dbError(err, "update")
		}
	}
	got, err := getAlert(ctx, tx, id)
	return RecordedAlert{Alert: got}, err
}

func (db *DB) insertAlert(ctx context.Context, tx *sql.Tx, a gohere.Alert, labels string, ends sql.NullInt64, now time.Time, window time.Duration, correlate Correlator) (RecordedAlert, error) {
	candidates, err := correlationCandidates(ctx, tx, a, window)
	if err != nil {
		return RecordedAlert{}, err
	}
	corr := correlate(a, candidates, window)
	due := sql.NullInt64{}
	if len(corr) > 0 {
		due = sql.NullInt64{Int64: toDB(now), Valid: true}
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO alerts (source, fingerprint, name, status, service, env, severity, summary, labels,
			generator_url, starts_at, ends_at, received_at, updated_at, annotation_due_at, critical)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15) RETURNING id`,
		cleanText(a.Source, gohere.MaxNameLen), cleanText(a.Fingerprint, gohere.MaxNameLen), cleanText(a.Name, maxAlertText),
		string(a.Status), cleanText(a.Service, gohere.MaxNameLen), cleanText(a.Env, gohere.MaxNameLen),
		cleanText(a.Severity, gohere.MaxNameLen), cleanText(a.Summary, maxAlertText), cleanText(labels, maxAlertLabels),
		cleanText(a.GeneratorURL, gohere.MaxURLLen), toDB(a.StartsAt), ends, toDB(now), due, a.Critical()).Scan(&id)
	if err != nil {
		return RecordedAlert{}, dbError(err, "insert")
	}
	for _, c := range corr {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_correlations (alert_id, deploy_id, rank, score, reason, dark)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, c.DeployID, c.Rank, c.Score, cleanText(c.Reason, maxAlertText), c.Dark); err != nil {
			return RecordedAlert{}, dbError(err, "correlate with deploy "+c.DeployID)
		}
	}
	if len(corr) > 0 {
		// Told where the likeliest cause's deploy is told, in its order.
		if err := db.notify(ctx, tx, corr[0].DeployID, NotifyAlert, "", strconv.FormatInt(id, 10), a.StartsAt,
			NotificationFacts{AlertID: id}); err != nil {
			return RecordedAlert{}, err
		}
	}
	got, err := getAlert(ctx, tx, id)
	return RecordedAlert{Alert: got, New: true}, err
}

// correlationCandidates reads the deploys of a's service and env that may
// have caused it: running at its start (the few running deploys), or
// finished within window before it (by their finish, however long ago they
// started).
func correlationCandidates(ctx context.Context, q querier, a gohere.Alert, window time.Duration) ([]gohere.Deploy, error) {
	if a.Service == "" {
		return nil, nil
	}
	start := toDB(a.StartsAt)
	running, err := queryDeploys(ctx, q, "SELECT "+deployCols+` FROM deploys
		WHERE status = 'running' AND service = $1 AND env = $2 AND started_at <= $3
		ORDER BY started_at DESC LIMIT $4`, a.Service, a.Env, start, maxCandidates)
	if err != nil {
		return nil, err
	}
	finished, err := queryDeploys(ctx, q, "SELECT "+deployCols+` FROM deploys
		WHERE service = $1 AND env = $2 AND finished_at >= $3 AND started_at <= $4
		ORDER BY finished_at DESC LIMIT $5`, a.Service, a.Env, toDB(a.StartsAt.Add(-window)), start, maxCandidates)
	if err != nil {
		return nil, err
	}
	return append(running, finished...), nil
}

const alertCols = `id, source, fingerprint, name, status, service, env, severity, summary, labels, generator_url,
	starts_at, ends_at, received_at`

func scanAlert(s scanner) (gohere.Alert, error) {
	var (
		a                gohere.Alert
		status, labels   string
		starts, received int64
		ends             sql.NullInt64
	)
	if err := s.Scan(&a.ID, &a.Source, &a.Fingerprint, &a.Name, &status, &a.Service, &a.Env, &a.Severity, &a.Summary,
		&labels, &a.GeneratorURL, &starts, &ends, &received); err != nil {
		return a, err
	}
	a.Status = gohere.AlertStatus(status)
	if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
		return a, fmt.Errorf("alert %d: labels: %w", a.ID, err)
	}
	a.StartsAt, a.ReceivedAt = fromDB(starts), fromDB(received)
	if ends.Valid {
		a.EndsAt = fromDB(ends.Int64)
	}
	a.Correlations = []gohere.Correlation{}
	return a, nil
}

// GetAlert returns one alert with its correlations.
func (db *DB) GetAlert(ctx context.Context, id int64) (_ gohere.Alert, err error) {
	ctx, span := db.start(ctx, "GetAlert", attribute.Int64("gohere.alert_id", id))
	defer func() { end(span, err) }()
	return getAlert(ctx, db.read, id)
}

func getAlert(ctx context.Context, q querier, id int64) (gohere.Alert, error) {
	as, err := queryAlerts(ctx, q, "SELECT "+alertCols+" FROM alerts WHERE id = $1", id)
	if err != nil {
		return gohere.Alert{}, err
	}
	if len(as) == 0 {
		return gohere.Alert{}, gohere.Errorf(gohere.NotFound, "alert %d: not found", id)
	}
	return as[0], nil
}

func queryAlerts(ctx context.Context, q querier, query string, args ...any) ([]gohere.Alert, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, "alerts: read")
	}
	as, err := collect(rows, "alerts: read", scanAlert)
	if err != nil {
		return nil, err
	}
	return as, loadCorrelations(ctx, q, as)
}

// loadCorrelations fills in the correlations of as, best first.
func loadCorrelations(ctx context.Context, q querier, as []gohere.Alert) error {
	if len(as) == 0 {
		return nil
	}
	at := make(map[int64]int, len(as))
	args := make([]any, len(as))
	for i, a := range as {
		at[a.ID], args[i] = i, a.ID
	}
	rows, err := q.QueryContext(ctx, `SELECT c.alert_id, c.deploy_id, c.rank, c.score, c.reason, c.dark, d.version, d.stage, d.author, d.merged_by
		FROM alert_correlations c JOIN deploys d ON d.id = c.deploy_id
		WHERE c.alert_id IN (`+params(1, len(args))+`) ORDER BY c.alert_id, c.rank`, args...)
	if err != nil {
		return dbError(err, "alert correlations: read")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id    int64
			c     gohere.Correlation
			stage string
		)
		if err := rows.Scan(&id, &c.DeployID, &c.Rank, &c.Score, &c.Reason, &c.Dark, &c.Version, &stage, &c.Author, &c.MergedBy); err != nil {
			return dbError(err, "alert correlations: read")
		}
		c.Stage = gohere.Stage(stage)
		as[at[id]].Correlations = append(as[at[id]].Correlations, c)
	}
	if err := rows.Err(); err != nil {
		return dbError(err, "alert correlations: read")
	}
	return nil
}

// AlertFilter selects alerts: of a service ("" any), started since (zero:
// any time), at most Limit (0: DefaultListLimit).
type AlertFilter struct {
	Service    string
	Since      time.Time
	Correlated bool // only alerts that correlate with a deploy
	Limit      int
}

// ListAlerts returns the alerts matching f, newest start first.
func (db *DB) ListAlerts(ctx context.Context, f AlertFilter) (_ []gohere.Alert, err error) {
	if err := checkFilter("service", f.Service); err != nil {
		return nil, err
	}
	ctx, span := db.start(ctx, "ListAlerts", attribute.String("gohere.service", f.Service))
	defer func() { end(span, err) }()
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	where, args := []string{"starts_at >= $1"}, []any{toDB(f.Since)}
	if f.Service != "" {
		args = append(args, f.Service)
		where = append(where, "service = $"+strconv.Itoa(len(args)))
	}
	if f.Correlated {
		where = append(where, "EXISTS (SELECT 1 FROM alert_correlations c WHERE c.alert_id = alerts.id)")
	}
	args = append(args, limit)
	return queryAlerts(ctx, db.read, "SELECT "+alertCols+" FROM alerts WHERE "+strings.Join(where, " AND ")+
		" ORDER BY starts_at DESC, id DESC LIMIT $"+strconv.Itoa(len(args)), args...)
}

// DeployAlerts returns the alerts correlated with a deploy, newest first.
// An unknown deploy is NotFound.
func (db *DB) DeployAlerts(ctx context.Context, deployID string) (_ []gohere.Alert, err error) {
	if err := checkID("deploy", deployID); err != nil {
		return nil, err
	}
	ctx, span := db.start(ctx, "DeployAlerts", attribute.String("gohere.deploy_id", deployID))
	defer func() { end(span, err) }()
	if err := deployExists(ctx, db.read, deployID); err != nil {
		return nil, err
	}
	return queryAlerts(ctx, db.read, "SELECT "+alertCols+` FROM alerts WHERE id IN
		(SELECT alert_id FROM alert_correlations WHERE deploy_id = $1) ORDER BY starts_at DESC, id DESC LIMIT $2`, deployID, MaxListLimit)
}

// listLimit applies the list limits: 0 is DefaultListLimit, more than
// MaxListLimit is cut, negative is Invalid.
func listLimit(n int) (int, error) {
	switch {
	case n < 0:
		return 0, gohere.Errorf(gohere.Invalid, "limit %d: must not be negative", n)
	case n == 0:
		return DefaultListLimit, nil
	}
	return min(n, MaxListLimit), nil
}

// AlertAnnotation asks for a correlated alert's Grafana annotation to be
// made to show its current state.
type AlertAnnotation struct {
	Alert        gohere.Alert
	AnnotationID int64 // 0 while none was recorded
	Attempts     int   // failed attempts so far
	// LeaseEnd is when the claim ends; CompleteAlertAnnotation takes it
	// to tell whether the alert was queued again meanwhile.
	LeaseEnd time.Time
}

// ClaimAlertAnnotations returns up to limit alerts whose annotation is due
// at now, oldest first, and leases them until now+lease.
func (db *DB) ClaimAlertAnnotations(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []AlertAnnotation, err error) {
	ctx, span := db.start(ctx, "ClaimAlertAnnotations", attribute.Int("gohere.limit", limit))
	defer func() { end(span, err) }()
	if limit <= 0 || lease <= 0 {
		return nil, gohere.Errorf(gohere.Invalid, "alert annotations claim: limit %d and lease %s must be positive", limit, lease)
	}
	rows, err := db.write.QueryContext(ctx, `UPDATE alerts SET annotation_due_at = $1
		WHERE id IN (SELECT id FROM alerts WHERE annotation_due_at <= $2 ORDER BY annotation_due_at, id LIMIT $3`+db.d.lockRows+`)
		RETURNING id, annotation_id, annotation_attempts`, toDB(now.Add(lease)), toDB(now), limit)
	if err != nil {
		return nil, dbError(err, "alert annotations: claim")
	}
	type claimed struct {
		id, annotation int64
		attempts       int
	}
	cs, err := collect(rows, "alert annotations: claim", func(s scanner) (claimed, error) {
		var c claimed
		return c, s.Scan(&c.id, &c.annotation, &c.attempts)
	})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, nil
	}
	ids := make([]any, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	as, err := queryAlerts(ctx, db.read, "SELECT "+alertCols+" FROM alerts WHERE id IN ("+params(1, len(ids))+")", ids...)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]gohere.Alert, len(as))
	for _, a := range as {
		byID[a.ID] = a
	}
	out := make([]AlertAnnotation, 0, len(cs))
	for _, c := range cs {
		out = append(out, AlertAnnotation{Alert: byID[c.id], AnnotationID: c.annotation, Attempts: c.attempts, LeaseEnd: fromDB(toDB(now.Add(lease)))})
	}
	span.SetAttributes(attribute.Int("gohere.count", len(out)))
	return out, nil
}

// CompleteAlertAnnotation records the alert's annotation id and takes it
// off the queue, unless it was queued again meanwhile (then the newer state
// is written at its turn).
func (db *DB) CompleteAlertAnnotation(ctx context.Context, alertID, annotationID int64, claimedUntil time.Time) (err error) {
	ctx, span := db.start(ctx, "CompleteAlertAnnotation", attribute.Int64("gohere.alert_id", alertID))
	defer func() { end(span, err) }()
	if annotationID <= 0 {
		return gohere.Errorf(gohere.Invalid, "alert %d: annotation id %d must be positive", alertID, annotationID)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE alerts SET annotation_id = $1, annotation_attempts = 0, annotation_error = '',
		annotation_due_at = CASE WHEN annotation_due_at = $2 THEN NULL ELSE annotation_due_at END WHERE id = $3`,
		annotationID, toDB(claimedUntil), alertID)
	return affectedOne(res, err, fmt.Sprintf("alert %d", alertID))
}

// RetryAlertAnnotation records a failed write: the next is due at next.
func (db *DB) RetryAlertAnnotation(ctx context.Context, alertID int64, next time.Time, lastErr string) (err error) {
	ctx, span := db.start(ctx, "RetryAlertAnnotation", attribute.Int64("gohere.alert_id", alertID))
	defer func() { end(span, err) }()
	res, err := db.write.ExecContext(ctx, `UPDATE alerts SET annotation_attempts = annotation_attempts + 1, annotation_due_at = $1,
		annotation_error = $2 WHERE id = $3`, toDB(next), cleanText(lastErr, maxLastError), alertID)
	return affectedOne(res, err, fmt.Sprintf("alert %d", alertID))
}
