-- The decisions about canary analyses as an append-only audit trail, and an
-- index for the running deploys whose annotation regions grow.
-- Keep in step with ../postgres/00004_decisions.sql: same tables, columns and
-- indexes; only what the engines spell differently may differ.
-- Times are Unix microseconds, UTC.

-- +goose Up
-- One row per approve or halt, never updated or deleted (the triggers refuse
-- it): an analysis' current decision is its newest row. A halt may follow an
-- approve while the deploy runs; nothing follows a halt.
CREATE TABLE decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    analysis_id TEXT NOT NULL REFERENCES analyses (id),
    deploy_id   TEXT NOT NULL REFERENCES deploys (id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL,
    decided_at  BIGINT NOT NULL
);
CREATE INDEX decisions_analysis ON decisions (analysis_id, id);
CREATE INDEX decisions_deploy ON decisions (deploy_id);

-- The one decision an analysis could hold before the trail existed.
INSERT INTO decisions (analysis_id, deploy_id, kind, actor, reason, source, decided_at)
    SELECT id, deploy_id, decision, COALESCE(decided_by, ''), COALESCE(decision_reason, ''), 'auto', COALESCE(decided_at, updated_at)
    FROM analyses WHERE decision IS NOT NULL;
ALTER TABLE analyses DROP COLUMN decision;
ALTER TABLE analyses DROP COLUMN decided_by;
ALTER TABLE analyses DROP COLUMN decision_reason;
ALTER TABLE analyses DROP COLUMN decided_at;

-- +goose StatementBegin
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions are an append-only audit trail');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions are an append-only audit trail');
END;
-- +goose StatementEnd

-- The annotation regions of running deploys are extended periodically.
CREATE INDEX deploys_running ON deploys (started_at) WHERE status = 'running';

-- +goose Down
DROP INDEX deploys_running;
DROP TRIGGER decisions_no_delete;
DROP TRIGGER decisions_no_update;
ALTER TABLE analyses ADD COLUMN decision TEXT;
ALTER TABLE analyses ADD COLUMN decided_by TEXT;
ALTER TABLE analyses ADD COLUMN decision_reason TEXT;
ALTER TABLE analyses ADD COLUMN decided_at BIGINT;
DROP TABLE decisions;
