package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gohere/gohere"
)

// The decisions table is an audit trail: this file only ever inserts into
// it (a test reads the package's SQL to keep it so, and triggers refuse an
// UPDATE or DELETE).
const insertDecisionSQL = `INSERT INTO decisions (analysis_id, deploy_id, kind, actor, reason, source, decided_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`

const decisionCols = "analysis_id, kind, actor, reason, source, decided_at"

// Decide records a decision about an analysis and applies it, in one
// transaction: the analysis becomes approved or halted (a halted run judges
// no further interval: its lease is revoked), the deploy is promoted (stage
// full) or finished as halted, and its annotation is queued for update.
//
// It is a Conflict when the deploy no longer runs, after a halt, for a
// second approve, and for an approve while intervals are still being judged:
// a human approves a verdict, but may halt at any time, also after an
// approve.
func (db *DB) Decide(ctx context.Context, analysisID string, d gohere.Decision) (_ Analysis, err error) {
	if err := checkID("analysis", analysisID); err != nil {
		return Analysis{}, err
	}
	ctx, span := db.start(ctx, "Decide", attribute.String("gohere.analysis_id", analysisID),
		attribute.String("gohere.decision", string(d.Kind)))
	defer func() { end(span, err) }()
	if err := validDecision(d); err != nil {
		return Analysis{}, err
	}
	what := "analysis " + analysisID + ": " + string(d.Kind)
	err = db.inTx(ctx, what, func(tx *sql.Tx) error {
		var deployID, state, status string
		err := tx.QueryRowContext(ctx, `SELECT a.deploy_id, a.state, d.status FROM analyses a
			JOIN deploys d ON d.id = a.deploy_id WHERE a.id = $1`+db.d.lockRow, analysisID).Scan(&deployID, &state, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return gohere.Errorf(gohere.NotFound, "analysis %s: not found", analysisID)
		}
		if err != nil {
			return dbError(err, what+": read")
		}
		current, err := currentDecision(ctx, tx, analysisID)
		if err != nil {
			return err
		}
		switch {
		case current != nil && current.Kind == gohere.DecisionHalt:
			return gohere.Errorf(gohere.Conflict, "analysis %s was halted by %s; a halt is final", analysisID, current.Actor)
		case gohere.Status(status) != gohere.StatusRunning:
			return gohere.Errorf(gohere.Conflict, "deploy %s finished %s: nothing is left to decide", deployID, status)
		case d.Kind == gohere.DecisionApprove && current != nil:
			return gohere.Errorf(gohere.Conflict, "analysis %s was approved by %s already", analysisID, current.Actor)
		case d.Kind == gohere.DecisionApprove && AnalysisState(state).Active():
			return gohere.Errorf(gohere.Conflict, "analysis %s is still judging intervals: approve it once it has a verdict, or halt it now", analysisID)
		}
		next := AnalysisApproved
		if d.Kind == gohere.DecisionHalt {
			next = AnalysisHalted
		}
		// A new lease token: a runner judging an interval right now can
		// no longer record it, and nothing is due any more.
		if _, err := tx.ExecContext(ctx, `UPDATE analyses SET state = $1, next_due_at = NULL, lease_owner = NULL,
			lease_expires_at = NULL, lease_token = lease_token + 1, updated_at = $2 WHERE id = $3`,
			string(next), toDB(d.DecidedAt), analysisID); err != nil {
			return dbError(err, what+": update analysis")
		}
		if err := db.applyDecision(ctx, tx, analysisID, deployID, d); err != nil {
			return err
		}
		return db.enqueue(ctx, tx, deployID)
	})
	if err != nil {
		return Analysis{}, err
	}
	return db.GetAnalysisSummary(ctx, analysisID)
}

func validDecision(d gohere.Decision) error {
	switch {
	case d.Kind != gohere.DecisionApprove && d.Kind != gohere.DecisionHalt:
		return gohere.Errorf(gohere.Invalid, "decision %q: want approve or halt", d.Kind)
	case d.Source != gohere.SourceAPI && d.Source != gohere.SourcePage && d.Source != gohere.SourceFlagger && d.Source != gohere.SourceAuto:
		return gohere.Errorf(gohere.Invalid, "decision source %q: want api, page, flagger or auto", d.Source)
	case d.DecidedAt.IsZero():
		return gohere.Errorf(gohere.Invalid, "decision: a time is required")
	}
	if err := gohere.ValidateName("decision actor", d.Actor); err != nil {
		return err
	}
	return gohere.ValidateReason(d.Kind, d.Reason)
}

// applyDecision appends d to the trail and applies it to the running
// deploy, inside the caller's transaction: a halt finishes it as halted, an
// approve promotes a canary to full. The caller checked that the deploy runs
// and queues its annotation.
func (db *DB) applyDecision(ctx context.Context, tx *sql.Tx, analysisID, deployID string, d gohere.Decision) error {
	what := "analysis " + analysisID + ": " + string(d.Kind)
	at := toDB(d.DecidedAt)
	if _, err := tx.ExecContext(ctx, insertDecisionSQL, analysisID, deployID, string(d.Kind),
		cleanText(d.Actor, gohere.MaxNameLen), cleanText(d.Reason, gohere.MaxReasonLen), string(d.Source), at); err != nil {
		return dbError(err, what+": record")
	}
	// A halt finishes the deploy too; its message says so, and the
	// pipeline's own finish (rolled back, say) is told when it comes.
	if err := db.notify(ctx, tx, deployID, NotifyDecided, analysisID, string(d.Kind), d.DecidedAt, NotificationFacts{Decision: &d}); err != nil {
		return err
	}
	var err error
	if d.Kind == gohere.DecisionHalt {
		_, err = tx.ExecContext(ctx, `UPDATE deploys SET status = $1, finished_at = CASE WHEN started_at > $2 THEN started_at ELSE $2 END
			WHERE id = $3 AND status = $4`, string(gohere.StatusHalted), at, deployID, string(gohere.StatusRunning))
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE deploys SET stage = $1 WHERE id = $2 AND status = $3 AND stage = $4`,
			string(gohere.StageFull), deployID, string(gohere.StatusRunning), string(gohere.StageCanary))
	}
	if err != nil {
		return dbError(err, what+": update deploy "+deployID)
	}
	return nil
}

// currentDecision is the newest decision about the analysis, nil if none.
func currentDecision(ctx context.Context, q querier, analysisID string) (*gohere.Decision, error) {
	ds, err := decisionsOf(ctx, q, []string{analysisID})
	if err != nil {
		return nil, err
	}
	trail := ds[analysisID]
	if len(trail) == 0 {
		return nil, nil
	}
	return &trail[len(trail)-1], nil
}

// decisionsOf reads the trails of the analyses, oldest decision first.
func decisionsOf(ctx context.Context, q querier, analysisIDs []string) (map[string][]gohere.Decision, error) {
	out := make(map[string][]gohere.Decision, len(analysisIDs))
	if len(analysisIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(analysisIDs))
	for i, id := range analysisIDs {
		args[i] = id
	}
	rows, err := q.QueryContext(ctx, "SELECT "+decisionCols+" FROM decisions WHERE analysis_id IN ("+
		params(1, len(args))+") ORDER BY analysis_id, id", args...)
	if err != nil {
		return nil, dbError(err, "decisions: read")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, kind, source string
			d                gohere.Decision
			at               int64
		)
		if err := rows.Scan(&id, &kind, &d.Actor, &d.Reason, &source, &at); err != nil {
			return nil, dbError(err, "decisions: read")
		}
		d.Kind, d.Source, d.DecidedAt = gohere.DecisionKind(kind), gohere.DecisionSource(source), fromDB(at)
		out[id] = append(out[id], d)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, "decisions: read")
	}
	return out, nil
}

// loadDecisions fills in the trail and current decision of each analysis.
func loadDecisions(ctx context.Context, q querier, as []Analysis) error {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	trails, err := decisionsOf(ctx, q, ids)
	if err != nil {
		return err
	}
	for i := range as {
		as[i].Decisions = trails[as[i].ID]
		if as[i].Decisions == nil {
			as[i].Decisions = []gohere.Decision{}
		}
		if n := len(as[i].Decisions); n > 0 {
			as[i].Decision = &as[i].Decisions[n-1]
		}
	}
	return nil
}

// loadJudgements fills in each deploy's Judgement: its newest analysis and
// that analysis' current decision.
func loadJudgements(ctx context.Context, q querier, ds []gohere.Deploy) error {
	if len(ds) == 0 {
		return nil
	}
	at, args := byID(ds)
	rows, err := q.QueryContext(ctx, "SELECT deploy_id, id, state, verdict, score FROM analyses WHERE deploy_id IN ("+
		params(1, len(args))+") ORDER BY deploy_id, created_at DESC, id DESC", args...)
	if err != nil {
		return dbError(err, "deploy analyses: read")
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var deployID, verdict string
		var j gohere.Judgement
		if err := rows.Scan(&deployID, &j.AnalysisID, &j.State, &verdict, &j.Score); err != nil {
			return dbError(err, "deploy analyses: read")
		}
		i := at[deployID]
		if ds[i].Judgement != nil {
			continue // an older analysis
		}
		j.Verdict = gohere.Verdict(verdict)
		ds[i].Judgement = &j
		ids = append(ids, j.AnalysisID)
	}
	if err := rows.Err(); err != nil {
		return dbError(err, "deploy analyses: read")
	}
	rows.Close()
	trails, err := decisionsOf(ctx, q, ids)
	if err != nil {
		return err
	}
	for i := range ds {
		if j := ds[i].Judgement; j != nil {
			if t := trails[j.AnalysisID]; len(t) > 0 {
				j.Decision = &t[len(t)-1]
			}
		}
	}
	return nil
}

// EnqueueRunning queues an annotation update for every running deploy that
// has an annotation and nothing queued, so that its region grows while it
// runs (it is drawn to "now" at each write). It returns how many it queued.
func (db *DB) EnqueueRunning(ctx context.Context, now time.Time) (_ int, err error) {
	ctx, span := db.start(ctx, "EnqueueRunning")
	defer func() { end(span, err) }()
	res, err := db.write.ExecContext(ctx, `INSERT INTO outbox (deploy_id, created_at, next_attempt_at)
		SELECT id, $1, $1 FROM deploys d WHERE status = 'running' AND annotation_id <> 0
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.deploy_id = d.id)`, toDB(now))
	if err != nil {
		return 0, dbError(err, "outbox: queue running deploys")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, dbError(err, "outbox: queue running deploys")
	}
	span.SetAttributes(attribute.Int64("gohere.count", n))
	return int(n), nil
}
