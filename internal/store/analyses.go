package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/gohere/gohere"
)

// AnalysisState is where a canary analysis stands:
//
//	pending → running → awaiting_decision → approved | halted
//
// failed_early (an interval failed badly) and error (the analysis cannot be
// run, e.g. a query the metric store rejects) end the run at once; like
// awaiting_decision they wait for a human's approve or halt.
type AnalysisState string

const (
	AnalysisPending          AnalysisState = "pending"
	AnalysisRunning          AnalysisState = "running"
	AnalysisAwaitingDecision AnalysisState = "awaiting_decision"
	AnalysisApproved         AnalysisState = "approved"
	AnalysisHalted           AnalysisState = "halted"
	AnalysisFailedEarly      AnalysisState = "failed_early"
	AnalysisError            AnalysisState = "error"
)

// Active reports whether intervals are still to be judged.
func (s AnalysisState) Active() bool { return s == AnalysisPending || s == AnalysisRunning }

// AwaitsDecision reports whether the run is over and waits for a human.
func (s AnalysisState) AwaitsDecision() bool {
	return s == AnalysisAwaitingDecision || s == AnalysisFailedEarly || s == AnalysisError
}

var analysisStates = []AnalysisState{AnalysisPending, AnalysisRunning, AnalysisAwaitingDecision,
	AnalysisApproved, AnalysisHalted, AnalysisFailedEarly, AnalysisError}

// Limits of what an analysis keeps.
const (
	MaxConfigLen   = 1 << 20 // the canary config as submitted
	MaxIntervalLen = 8 << 20 // queries + report JSON of one interval
	maxAnalysisErr = 4096
)

// Analysis is one canary analysis of a deploy. Intervals is filled by
// GetAnalysis only; Lease by ClaimDueAnalysis only.
type Analysis struct {
	ID              string            `json:"id"`
	DeployID        string            `json:"deploy_id"`
	Config          string            `json:"config"` // the canary config as submitted (YAML or JSON)
	Service         string            `json:"service"`
	Env             string            `json:"env"`
	BaselineVersion string            `json:"baseline_version"`
	CanaryVersion   string            `json:"canary_version"`
	State           AnalysisState     `json:"state"`
	Verdict         gohere.Verdict    `json:"verdict,omitempty"` // of the latest interval; "" before the first
	Score           float64           `json:"score"`
	Retrospective   bool              `json:"retrospective"`
	StartAt         time.Time         `json:"start_at"`
	EndAt           time.Time         `json:"end_at"`
	NextSeq         int               `json:"next_seq"`             // the interval to judge next, from 1
	NextDueAt       time.Time         `json:"next_due_at,omitzero"` // zero once nothing is due
	Attempts        int               `json:"attempts"`             // failed tries of the next interval
	LastError       string            `json:"last_error,omitempty"` // why the last try failed
	Decision        *gohere.Decision  `json:"decision,omitempty"`   // the current one (newest of Decisions); nil until decided
	Decisions       []gohere.Decision `json:"decisions"`            // the audit trail, oldest first
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	Intervals       []Interval        `json:"intervals,omitempty"`
	Lease           Lease             `json:"-"`
}

// Lease is a runner's exclusive claim on an analysis. Every claim bumps the
// token, so a runner whose lease ran out and was taken over can no longer
// write: its token is stale.
type Lease struct {
	AnalysisID string
	Owner      string
	Token      int64
	ExpiresAt  time.Time
}

// Interval is one judgement of an analysis: the windows queried, the
// resolved queries, the judge's report and how long it all took.
type Interval struct {
	AnalysisID      string          `json:"analysis_id"`
	Seq             int             `json:"seq"`
	Start           time.Time       `json:"start"` // the canary window
	End             time.Time       `json:"end"`
	BaselineStart   time.Time       `json:"baseline_start"` // differs from the canary window in before_after mode
	BaselineEnd     time.Time       `json:"baseline_end"`
	Queries         json.RawMessage `json:"queries"` // the resolved queries, per metric and side
	BaselineSamples int             `json:"baseline_samples"`
	CanarySamples   int             `json:"canary_samples"`
	Report          json.RawMessage `json:"report,omitempty"` // the judge's report; absent when nothing was judged
	Verdict         gohere.Verdict  `json:"verdict"`
	Score           float64         `json:"score"`
	Error           string          `json:"error,omitempty"` // why the interval could not be judged
	JudgedBy        string          `json:"judged_by"`       // the runner (replica) that recorded it
	JudgedAt        time.Time       `json:"judged_at"`
	Duration        time.Duration   `json:"duration_ns"`
}

// Progress is what an analysis becomes once an interval is recorded: the
// runner decides it, the store applies it together with the interval.
type Progress struct {
	State     AnalysisState
	Verdict   gohere.Verdict   // the run's verdict; empty: the interval's
	NextDueAt time.Time        // zero when nothing more is due
	Decision  *gohere.Decision // set by an automatic promotion
}

const analysisCols = `id, deploy_id, config, service, env, baseline_version, canary_version, state, verdict, score,
	retrospective, start_at, end_at, next_seq, next_due_at, attempts, last_error, created_at, updated_at,
	lease_owner, lease_token, lease_expires_at`

const intervalCols = `analysis_id, seq, window_start, window_end, baseline_start, baseline_end, queries,
	baseline_samples, canary_samples, report, verdict, score, error, judged_by, judged_at, duration_us`

// CreateAnalysis records a new analysis of an existing deploy, pending
// until its NextDueAt (StartAt when zero). ID (UUIDv7) and CreatedAt (now)
// are filled in when empty; State, Verdict, NextSeq and the lease start
// afresh. An unknown deploy is NotFound.
func (db *DB) CreateAnalysis(ctx context.Context, a Analysis) (_ Analysis, err error) {
	ctx, span := db.start(ctx, "CreateAnalysis", attribute.String("gohere.deploy_id", a.DeployID))
	defer func() { end(span, err) }()
	a, err = newAnalysis(a)
	if err != nil {
		return Analysis{}, err
	}
	span.SetAttributes(attribute.String("gohere.analysis_id", a.ID))
	what := "analysis " + a.ID
	err = db.inTx(ctx, what, func(tx *sql.Tx) error {
		if err := deployExists(ctx, tx, a.DeployID); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return insertAnalysis(ctx, tx, a)
	})
	if err != nil {
		return Analysis{}, err
	}
	return a, nil
}

// newAnalysis applies the defaults of a new analysis and validates it.
func newAnalysis(a Analysis) (Analysis, error) {
	if a.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return a, gohere.Errorf(gohere.Internal, "analysis id: %w", err)
		}
		a.ID = id.String()
	} else if err := gohere.ValidateName("analysis id", a.ID); err != nil {
		return a, err
	}
	for _, f := range []struct{ name, v string }{
		{"deploy id", a.DeployID}, {"service", a.Service}, {"env", a.Env}, {"canary version", a.CanaryVersion},
	} {
		if err := gohere.ValidateName(f.name, f.v); err != nil {
			return a, fmt.Errorf("analysis: %w", err)
		}
	}
	if a.BaselineVersion != "" {
		if err := gohere.ValidateName("baseline version", a.BaselineVersion); err != nil {
			return a, fmt.Errorf("analysis: %w", err)
		}
	}
	switch {
	case strings.TrimSpace(a.Config) == "":
		return a, gohere.Errorf(gohere.Invalid, "analysis: the canary config is empty")
	case len(a.Config) > MaxConfigLen:
		return a, gohere.Errorf(gohere.TooLarge, "analysis: the canary config is %d bytes long; at most %d", len(a.Config), MaxConfigLen)
	case !utf8.ValidString(a.Config) || strings.ContainsRune(a.Config, 0):
		return a, gohere.Errorf(gohere.Invalid, "analysis: the canary config is not UTF-8 text")
	case a.StartAt.IsZero() || !a.EndAt.After(a.StartAt):
		return a, gohere.Errorf(gohere.Invalid, "analysis: end %s must come after start %s",
			a.EndAt.UTC().Format(time.RFC3339), a.StartAt.UTC().Format(time.RFC3339))
	}
	if a.NextDueAt.IsZero() {
		a.NextDueAt = a.StartAt
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now()
	}
	a.StartAt, a.EndAt, a.NextDueAt = normTime(a.StartAt), normTime(a.EndAt), normTime(a.NextDueAt)
	a.CreatedAt = normTime(a.CreatedAt)
	a.UpdatedAt = a.CreatedAt
	a.State, a.Verdict, a.Score, a.NextSeq = AnalysisPending, "", 0, 1
	a.Attempts, a.LastError, a.Decision, a.Decisions, a.Intervals, a.Lease = 0, "", nil, []gohere.Decision{}, nil, Lease{}
	return a, nil
}

// GetAnalysis returns one analysis with its intervals, in order, each with
// its queries and report.
func (db *DB) GetAnalysis(ctx context.Context, id string) (Analysis, error) {
	return db.getAnalysis(ctx, "GetAnalysis", id, allEvidence)
}

// GetAnalysisSummary is GetAnalysis with the queries and report of the
// latest interval only, for pages that show the others as rows.
func (db *DB) GetAnalysisSummary(ctx context.Context, id string) (Analysis, error) {
	return db.getAnalysis(ctx, "GetAnalysisSummary", id, latestOnly)
}

func (db *DB) getAnalysis(ctx context.Context, op, id string, evidence intervalEvidence) (_ Analysis, err error) {
	if err := checkID("analysis", id); err != nil {
		return Analysis{}, err
	}
	ctx, span := db.start(ctx, op, attribute.String("gohere.analysis_id", id))
	defer func() { end(span, err) }()
	// One read transaction so the intervals match the analysis row.
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Analysis{}, dbError(err, "analysis "+id+": begin")
	}
	defer tx.Rollback()
	a, err := scanAnalysis(tx.QueryRowContext(ctx, "SELECT "+analysisCols+" FROM analyses WHERE id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Analysis{}, gohere.Errorf(gohere.NotFound, "analysis %s: not found", id)
	}
	if err != nil {
		return Analysis{}, dbError(err, "analysis "+id+": read")
	}
	a.Lease = Lease{}
	a.Intervals, err = intervals(ctx, tx, id, evidence)
	if err != nil {
		return Analysis{}, err
	}
	as := []Analysis{a}
	if err := loadDecisions(ctx, tx, as); err != nil {
		return Analysis{}, err
	}
	return as[0], nil
}

// intervalEvidence selects which intervals come with their queries and
// report: a run of hundreds of intervals holds megabytes of them.
type intervalEvidence int

const (
	allEvidence intervalEvidence = iota
	latestOnly
)

// Every interval column, the evidence (queries, report) only where $2 = 0
// (every interval) or for the latest interval.
var intervalsSQL = "SELECT " + strings.NewReplacer(
	"queries,", "CASE WHEN $2 = 0 OR seq = (SELECT MAX(seq) FROM analysis_intervals WHERE analysis_id = $1) THEN queries ELSE '' END,",
	"report,", "CASE WHEN $2 = 0 OR seq = (SELECT MAX(seq) FROM analysis_intervals WHERE analysis_id = $1) THEN report ELSE '' END,",
).Replace(intervalCols) + " FROM analysis_intervals WHERE analysis_id = $1 ORDER BY seq"

func intervals(ctx context.Context, q querier, id string, evidence intervalEvidence) ([]Interval, error) {
	what := "analysis " + id + ": read intervals"
	rows, err := q.QueryContext(ctx, intervalsSQL, id, int(evidence))
	if err != nil {
		return nil, dbError(err, what)
	}
	defer rows.Close()
	out := []Interval{}
	for rows.Next() {
		var (
			iv                                 Interval
			start, end, bStart, bEnd, at, took int64
			queries, report, verdict           string
		)
		if err := rows.Scan(&iv.AnalysisID, &iv.Seq, &start, &end, &bStart, &bEnd, &queries,
			&iv.BaselineSamples, &iv.CanarySamples, &report, &verdict, &iv.Score, &iv.Error,
			&iv.JudgedBy, &at, &took); err != nil {
			return nil, dbError(err, what)
		}
		iv.Start, iv.End, iv.BaselineStart, iv.BaselineEnd = fromDB(start), fromDB(end), fromDB(bStart), fromDB(bEnd)
		iv.JudgedAt, iv.Duration = fromDB(at), time.Duration(took)*time.Microsecond
		iv.Verdict = gohere.Verdict(verdict)
		if queries != "" {
			iv.Queries = json.RawMessage(queries)
		}
		if report != "" {
			iv.Report = json.RawMessage(report)
		}
		out = append(out, iv)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, what)
	}
	return out, nil
}

// ListAnalyses returns the analyses of a deploy, newest first, without their
// intervals. A deploy without analyses gives an empty list.
func (db *DB) ListAnalyses(ctx context.Context, deployID string) (_ []Analysis, err error) {
	if err := checkID("deploy", deployID); err != nil {
		return nil, err
	}
	ctx, span := db.start(ctx, "ListAnalyses", attribute.String("gohere.deploy_id", deployID))
	defer func() { end(span, err) }()
	as, err := queryAnalyses(ctx, db.read, "SELECT "+analysisCols+
		" FROM analyses WHERE deploy_id = $1 ORDER BY created_at DESC, id DESC", deployID)
	if err != nil {
		return nil, err
	}
	for i := range as {
		as[i].Lease = Lease{}
	}
	if err := loadDecisions(ctx, db.read, as); err != nil {
		return nil, err
	}
	span.SetAttributes(attribute.Int("gohere.count", len(as)))
	return as, nil
}

func queryAnalyses(ctx context.Context, q querier, query string, args ...any) ([]Analysis, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(err, "analyses: read")
	}
	return collect(rows, "analyses: read", scanAnalysis)
}

func scanAnalysis(s scanner) (Analysis, error) {
	var (
		a                              Analysis
		state, verdict                 string
		start, endAt, created, updated int64
		nextDue, leaseExpires          sql.NullInt64
		leaseBy                        sql.NullString
	)
	err := s.Scan(&a.ID, &a.DeployID, &a.Config, &a.Service, &a.Env, &a.BaselineVersion, &a.CanaryVersion,
		&state, &verdict, &a.Score, &a.Retrospective, &start, &endAt, &a.NextSeq, &nextDue, &a.Attempts, &a.LastError,
		&created, &updated, &leaseBy, &a.Lease.Token, &leaseExpires)
	if err != nil {
		return a, err
	}
	a.State, a.Verdict = AnalysisState(state), gohere.Verdict(verdict)
	a.StartAt, a.EndAt, a.CreatedAt, a.UpdatedAt = fromDB(start), fromDB(endAt), fromDB(created), fromDB(updated)
	if nextDue.Valid {
		a.NextDueAt = fromDB(nextDue.Int64)
	}
	a.Decisions = []gohere.Decision{}
	a.Lease.AnalysisID, a.Lease.Owner = a.ID, leaseBy.String
	if leaseExpires.Valid {
		a.Lease.ExpiresAt = fromDB(leaseExpires.Int64)
	}
	return a, nil
}

// ClaimDueAnalysis leases the active analysis that has been due the longest
// at now and whose lease (if any) has ended, to owner until now+lease, and
// marks it running. found is false when nothing is due. On PostgreSQL, SKIP
// LOCKED lets replicas claiming together pass each other's rows; on SQLite
// the single writer serialises claims.
func (db *DB) ClaimDueAnalysis(ctx context.Context, owner string, now time.Time, lease time.Duration) (_ Analysis, found bool, err error) {
	ctx, span := db.start(ctx, "ClaimDueAnalysis", attribute.String("gohere.owner", owner))
	defer func() { end(span, err) }()
	if owner == "" || lease <= 0 {
		return Analysis{}, false, gohere.Errorf(gohere.Invalid, "analysis claim: owner %q must be set and lease %s positive", owner, lease)
	}
	// Most polls find nothing: ask a reader first, so that idle runners do
	// not queue for the writer (SQLite) or lock rows (PostgreSQL).
	const due = `state IN ($1, $2) AND next_due_at <= $3 AND (lease_expires_at IS NULL OR lease_expires_at <= $3)`
	var one int
	err = db.read.QueryRowContext(ctx, "SELECT 1 FROM analyses WHERE "+due+" LIMIT 1",
		string(AnalysisPending), string(AnalysisRunning), toDB(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return Analysis{}, false, nil
	}
	if err != nil {
		return Analysis{}, false, dbError(err, "analyses: look for due runs")
	}
	as, err := queryAnalyses(ctx, db.write, `UPDATE analyses
		SET lease_owner = $4, lease_expires_at = $5, lease_token = lease_token + 1, state = $2, updated_at = $3
		WHERE id IN (SELECT id FROM analyses WHERE `+due+` ORDER BY next_due_at, id LIMIT 1`+db.d.lockRows+`)
		RETURNING `+analysisCols,
		string(AnalysisPending), string(AnalysisRunning), toDB(now), cleanText(owner, maxAnalysisErr), toDB(now.Add(lease)))
	if err != nil || len(as) == 0 {
		return Analysis{}, false, err
	}
	span.SetAttributes(attribute.String("gohere.analysis_id", as[0].ID), attribute.Int("gohere.seq", as[0].NextSeq))
	return as[0], true, nil
}

// RecordInterval stores the judgement of the analysis' next interval and
// applies p (state, verdict, next due time, decision), releasing the lease,
// in one transaction. The interval's score, and its verdict unless p says
// otherwise, become the analysis'. It is a Conflict when l is no longer the
// analysis' current lease (another runner took it over), when the analysis
// is no longer active, or when iv is not the next interval: an interval is
// never recorded twice. The lease may have expired: as long as nobody
// claimed the analysis since, the result stands.
func (db *DB) RecordInterval(ctx context.Context, l Lease, iv Interval, p Progress) (err error) {
	ctx, span := db.start(ctx, "RecordInterval", attribute.String("gohere.analysis_id", l.AnalysisID),
		attribute.Int("gohere.seq", iv.Seq), attribute.String("gohere.verdict", string(iv.Verdict)))
	defer func() { end(span, err) }()
	if err := validInterval(l, iv, p); err != nil {
		return err
	}
	what := fmt.Sprintf("analysis %s: interval %d", l.AnalysisID, iv.Seq)
	return db.inTx(ctx, what, func(tx *sql.Tx) error {
		var deployID, status string
		err := tx.QueryRowContext(ctx, `SELECT a.deploy_id, d.status FROM analyses a JOIN deploys d ON d.id = a.deploy_id
			WHERE a.id = $1`, l.AnalysisID).Scan(&deployID, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return gohere.Errorf(gohere.NotFound, "analysis %s: not found", l.AnalysisID)
		}
		if err != nil {
			return dbError(err, what+": read deploy")
		}
		if p.Decision != nil && gohere.Status(status) != gohere.StatusRunning {
			// The deploy finished meanwhile: nothing is left to decide
			// automatically, and the verdict stays undecided.
			p.State, p.Decision = AnalysisAwaitingDecision, nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE analyses SET state = $1, verdict = $2, score = $3,
			next_seq = next_seq + 1, next_due_at = $4, attempts = 0, last_error = '',
			lease_owner = NULL, lease_expires_at = NULL, updated_at = $5
			WHERE id = $6 AND lease_token = $7 AND next_seq = $8 AND state IN ($9, $10)`,
			string(p.State), string(cmp.Or(p.Verdict, iv.Verdict)), iv.Score, nullTime(p.NextDueAt), toDB(iv.JudgedAt),
			l.AnalysisID, l.Token, iv.Seq, string(AnalysisPending), string(AnalysisRunning))
		if err != nil {
			return dbError(err, what+": update analysis")
		}
		if err := lostLease(ctx, tx, res, l, what); err != nil {
			return err
		}
		report := ""
		if len(iv.Report) > 0 {
			report = string(iv.Report)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO analysis_intervals ("+intervalCols+") VALUES ("+params(1, 16)+")",
			l.AnalysisID, iv.Seq, toDB(iv.Start), toDB(iv.End), toDB(iv.BaselineStart), toDB(iv.BaselineEnd),
			string(iv.Queries), iv.BaselineSamples, iv.CanarySamples, report, string(iv.Verdict), iv.Score,
			cleanText(iv.Error, maxAnalysisErr), cleanText(l.Owner, maxAnalysisErr), toDB(iv.JudgedAt), iv.Duration.Microseconds())
		if isUniqueViolation(err) {
			return gohere.Errorf(gohere.Conflict, "%s: already recorded", what)
		}
		if err != nil {
			return dbError(err, what+": insert")
		}
		facts := NotificationFacts{Seq: iv.Seq, State: p.State, Verdict: cmp.Or(p.Verdict, iv.Verdict), Score: iv.Score}
		// The first failing interval is news while the run goes on, and when
		// it ends the run early; the unique key keeps later ones quiet.
		if iv.Verdict == gohere.VerdictFail && (p.State.Active() || p.State == AnalysisFailedEarly) {
			if err := db.notify(ctx, tx, deployID, NotifyFailing, l.AnalysisID, "", iv.JudgedAt, facts); err != nil {
				return err
			}
		}
		if p.State.Active() {
			return nil
		}
		if err := db.notify(ctx, tx, deployID, NotifyVerdict, l.AnalysisID, "", iv.JudgedAt, facts); err != nil {
			return err
		}
		if p.Decision != nil {
			if err := db.applyDecision(ctx, tx, l.AnalysisID, deployID, *p.Decision); err != nil {
				return err
			}
		}
		// The run is over: the annotation shows its verdict.
		return db.enqueue(ctx, tx, deployID)
	})
}

func validInterval(l Lease, iv Interval, p Progress) error {
	what := fmt.Sprintf("analysis %s: interval %d", l.AnalysisID, iv.Seq)
	var problems []string
	if iv.AnalysisID != "" && iv.AnalysisID != l.AnalysisID {
		problems = append(problems, "belongs to analysis "+iv.AnalysisID)
	}
	if iv.Seq < 1 {
		problems = append(problems, "seq must be at least 1")
	}
	if !slices.Contains(analysisStates, p.State) {
		problems = append(problems, fmt.Sprintf("unknown state %q", p.State))
	}
	if p.State.Active() == p.NextDueAt.IsZero() {
		problems = append(problems, fmt.Sprintf("state %s with next due time %v: an active analysis needs one, a finished one none", p.State, p.NextDueAt))
	}
	for _, v := range []gohere.Verdict{iv.Verdict, cmp.Or(p.Verdict, iv.Verdict)} {
		switch v {
		case gohere.VerdictPass, gohere.VerdictMarginal, gohere.VerdictFail, gohere.VerdictNoData:
		default:
			problems = append(problems, fmt.Sprintf("unknown verdict %q", v))
		}
	}
	if math.IsNaN(iv.Score) || math.IsInf(iv.Score, 0) {
		problems = append(problems, fmt.Sprintf("score %v is not a number", iv.Score))
	}
	if iv.JudgedAt.IsZero() || iv.End.Before(iv.Start) || iv.BaselineEnd.Before(iv.BaselineStart) {
		problems = append(problems, "needs a judgement time and windows that end after they start")
	}
	for name, raw := range map[string]json.RawMessage{"queries": iv.Queries, "report": iv.Report} {
		if (name == "queries" || len(raw) > 0) && !json.Valid(raw) {
			problems = append(problems, name+" is not JSON")
		}
	}
	if n := len(iv.Queries) + len(iv.Report) + len(iv.Error); n > MaxIntervalLen {
		return gohere.Errorf(gohere.TooLarge, "%s: %d bytes; at most %d", what, n, MaxIntervalLen)
	}
	if d := p.Decision; d != nil {
		if err := validDecision(*d); err != nil {
			problems = append(problems, err.Error())
		}
		if want := map[gohere.DecisionKind]AnalysisState{gohere.DecisionApprove: AnalysisApproved, gohere.DecisionHalt: AnalysisHalted}[d.Kind]; p.State != want {
			problems = append(problems, fmt.Sprintf("a %s decision needs state %s, not %s", d.Kind, want, p.State))
		}
	}
	if len(problems) > 0 {
		return gohere.Errorf(gohere.Invalid, "%s: %s", what, strings.Join(problems, "; "))
	}
	return nil
}

// ReleaseAnalysis gives up the lease of an active analysis and makes it due
// again at next. A non-empty lastErr records a failed try of the next
// interval (Attempts grows by one); an empty one leaves the tries as they
// are. A lease no longer held is a Conflict.
func (db *DB) ReleaseAnalysis(ctx context.Context, l Lease, now, next time.Time, lastErr string) (err error) {
	ctx, span := db.start(ctx, "ReleaseAnalysis", attribute.String("gohere.analysis_id", l.AnalysisID))
	defer func() { end(span, err) }()
	if next.IsZero() {
		return gohere.Errorf(gohere.Invalid, "analysis %s: release needs the next due time", l.AnalysisID)
	}
	what := "analysis " + l.AnalysisID + ": release"
	failed := 0
	if lastErr != "" {
		failed = 1
	}
	return db.inTx(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE analyses SET lease_owner = NULL, lease_expires_at = NULL,
			next_due_at = $1, attempts = attempts + $2, last_error = CASE WHEN $2 = 1 THEN $3 ELSE last_error END,
			updated_at = $4
			WHERE id = $5 AND lease_token = $6 AND state IN ($7, $8)`,
			toDB(next), failed, cleanText(lastErr, maxAnalysisErr), toDB(now),
			l.AnalysisID, l.Token, string(AnalysisPending), string(AnalysisRunning))
		if err != nil {
			return dbError(err, what)
		}
		return lostLease(ctx, tx, res, l, what)
	})
}

// lostLease turns an update that matched no row into the reason why.
func lostLease(ctx context.Context, tx *sql.Tx, res sql.Result, l Lease, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(err, what)
	}
	if n > 0 {
		return nil
	}
	var state string
	var token int64
	err = tx.QueryRowContext(ctx, "SELECT state, lease_token FROM analyses WHERE id = $1", l.AnalysisID).Scan(&state, &token)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return gohere.Errorf(gohere.NotFound, "analysis %s: not found", l.AnalysisID)
	case err != nil:
		return dbError(err, what)
	case token != l.Token:
		return gohere.Errorf(gohere.Conflict, "%s: the lease was taken over by another runner", what)
	case !AnalysisState(state).Active():
		return gohere.Errorf(gohere.Conflict, "%s: the analysis is %s", what, state)
	}
	return gohere.Errorf(gohere.Conflict, "%s: not the next interval", what)
}

func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toDB(t), Valid: true}
}
