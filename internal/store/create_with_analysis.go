package store

import (
	"context"
	"database/sql"

	"github.com/google/uuid"

	"github.com/gohere/gohere"
)

// CreateDeployWithAnalysis records a new deploy as CreateDeploy does and,
// in the same transaction, the canary analysis it starts with: both or
// neither, so a deploy is never recorded without the analysis it was
// started with. a is prepared for the deploy (analysis.Prepare) before it
// has an id; its DeployID becomes the deploy's. The returned deploy's
// Judgement names the new analysis.
//
// A replay of idempotencyKey writes nothing and returns the first deploy as
// CreateDeploy does, its Judgement naming the analysis recorded with it (nil
// if it had none): a retried start never starts a second analysis.
func (db *DB) CreateDeployWithAnalysis(ctx context.Context, d gohere.Deploy, idempotencyKey string, a Analysis) (_ gohere.Deploy, created bool, err error) {
	if d.ID == "" {
		// Known before the transaction, so the analysis is validated
		// before anything is written.
		id, err := uuid.NewV7()
		if err != nil {
			return gohere.Deploy{}, false, gohere.Errorf(gohere.Internal, "deploy id: %w", err)
		}
		d.ID = id.String()
	}
	if a.DeployID != "" && a.DeployID != d.ID {
		return gohere.Deploy{}, false, gohere.Errorf(gohere.Invalid, "analysis of deploy %s cannot start with deploy %s", a.DeployID, d.ID)
	}
	if a.Service != d.Service || a.Env != d.Env || a.CanaryVersion != d.Version || a.BaselineVersion != d.BaselineVersion {
		return gohere.Deploy{}, false, gohere.Errorf(gohere.Invalid,
			"analysis of %s/%s %s (baseline %q) does not match deploy %s/%s %s (baseline %q)",
			a.Service, a.Env, a.CanaryVersion, a.BaselineVersion, d.Service, d.Env, d.Version, d.BaselineVersion)
	}
	a.DeployID = d.ID
	if a, err = newAnalysis(a); err != nil {
		return gohere.Deploy{}, false, err
	}
	d, created, err = db.createDeploy(ctx, "CreateDeployWithAnalysis", d, idempotencyKey,
		func(ctx context.Context, tx *sql.Tx, _ gohere.Deploy) error { return insertAnalysis(ctx, tx, a) })
	if err != nil || !created {
		return d, created, err // a replay's Judgement is read with the first deploy
	}
	d.Judgement = &gohere.Judgement{AnalysisID: a.ID, State: string(a.State), Verdict: a.Verdict, Score: a.Score}
	return d, true, nil
}

// insertAnalysis writes a new analysis (see newAnalysis) of a deploy that
// exists in tx.
func insertAnalysis(ctx context.Context, tx *sql.Tx, a Analysis) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO analyses (id, deploy_id, config, service, env, baseline_version,
		canary_version, state, retrospective, start_at, end_at, next_due_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)`,
		a.ID, a.DeployID, a.Config, a.Service, a.Env, a.BaselineVersion, a.CanaryVersion, string(a.State),
		a.Retrospective, toDB(a.StartAt), toDB(a.EndAt), toDB(a.NextDueAt), toDB(a.CreatedAt))
	if isUniqueViolation(err) {
		return gohere.Errorf(gohere.Conflict, "analysis %s: already exists", a.ID)
	}
	if err != nil {
		return dbError(err, "analysis "+a.ID+": insert")
	}
	return nil
}
