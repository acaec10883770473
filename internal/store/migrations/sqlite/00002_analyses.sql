-- Canary analyses of deploys and the intervals they judged.
-- Keep in step with ../postgres/00002_analyses.sql: same tables, columns and
-- indexes; only column types that the engines spell differently may differ.
-- Times are Unix microseconds, UTC.

-- +goose Up
-- One row per analysis. A runner claims a due row by bumping lease_token and
-- setting a lease expiry; only the holder of the current token may record an
-- interval or release it, so an interval is judged by one runner at a time.
-- decision* stay NULL until a human (or auto_promote) decides.
CREATE TABLE analyses (
    id               TEXT PRIMARY KEY,
    deploy_id        TEXT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    config           TEXT NOT NULL,
    service          TEXT NOT NULL,
    env              TEXT NOT NULL,
    baseline_version TEXT NOT NULL DEFAULT '',
    canary_version   TEXT NOT NULL,
    state            TEXT NOT NULL,
    verdict          TEXT NOT NULL DEFAULT '',
    score            REAL NOT NULL DEFAULT 0,
    retrospective    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    start_at         BIGINT NOT NULL,
    end_at           BIGINT NOT NULL,
    next_seq         INTEGER NOT NULL DEFAULT 1,
    next_due_at      BIGINT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    lease_owner      TEXT,
    lease_token      BIGINT NOT NULL DEFAULT 0,
    lease_expires_at BIGINT,
    decision         TEXT,
    decided_by       TEXT,
    decision_reason  TEXT,
    decided_at       BIGINT
);
CREATE INDEX analyses_due ON analyses (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX analyses_deploy ON analyses (deploy_id, created_at);

-- The primary key is what makes an interval impossible to record twice.
CREATE TABLE analysis_intervals (
    analysis_id      TEXT NOT NULL REFERENCES analyses (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    window_start     BIGINT NOT NULL,
    window_end       BIGINT NOT NULL,
    baseline_start   BIGINT NOT NULL,
    baseline_end     BIGINT NOT NULL,
    queries          TEXT NOT NULL,
    baseline_samples INTEGER NOT NULL DEFAULT 0,
    canary_samples   INTEGER NOT NULL DEFAULT 0,
    report           TEXT NOT NULL DEFAULT '',
    verdict          TEXT NOT NULL,
    score            REAL NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    judged_by        TEXT NOT NULL,
    judged_at        BIGINT NOT NULL,
    duration_us      BIGINT NOT NULL,
    PRIMARY KEY (analysis_id, seq)
);

-- +goose Down
DROP TABLE analysis_intervals;
DROP TABLE analyses;
