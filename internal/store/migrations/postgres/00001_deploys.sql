-- Deploys, their changes and the annotation outbox.
-- Keep in step with ../sqlite/00001_deploys.sql: same tables, columns and
-- indexes; only column types that the engines spell differently may differ.
-- Times are Unix microseconds, UTC.

-- +goose Up
CREATE TABLE deploys (
    id               TEXT PRIMARY KEY,
    service          TEXT NOT NULL,
    env              TEXT NOT NULL,
    version          TEXT NOT NULL,
    baseline_version TEXT NOT NULL DEFAULT '',
    stage            TEXT NOT NULL,
    status           TEXT NOT NULL,
    commit_sha       TEXT NOT NULL DEFAULT '',
    author           TEXT NOT NULL DEFAULT '',
    merged_by        TEXT NOT NULL DEFAULT '',
    pr               TEXT NOT NULL DEFAULT '',
    started_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    idempotency_key  TEXT UNIQUE,
    annotation_id    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX deploys_service_env_started ON deploys (service, env, started_at);
CREATE INDEX deploys_started ON deploys (started_at);

CREATE TABLE deploy_changes (
    deploy_id  TEXT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    pos        INTEGER NOT NULL,
    commit_sha TEXT NOT NULL,
    author     TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (deploy_id, pos)
);

-- An identity is never reused, so a worker whose lease expired
-- cannot complete or retry somebody else's newer entry.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deploy_id       TEXT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
CREATE INDEX outbox_deploy ON outbox (deploy_id);

-- +goose Down
DROP TABLE outbox;
DROP TABLE deploy_changes;
DROP TABLE deploys;
