-- Alerts from Alertmanager and Grafana, and the deploys they correlate with
-- (see store/alerts.go); the commit time of deploys (store/dora.go). Every alert is kept, correlated or not, so that
-- later pages and the DORA keys see it.
-- Keep in step with ../postgres/00007_alerts_dora.sql: the same text but the id.
-- Times are Unix microseconds, UTC.

-- +goose Up
-- One row per alert: a resend (same source, fingerprint and start) updates
-- it. annotation_due_at is the alert's place in the annotation queue (NULL:
-- nothing to write), like the outbox's next_attempt_at.
CREATE TABLE alerts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    source              TEXT NOT NULL,
    fingerprint         TEXT NOT NULL,
    name                TEXT NOT NULL,
    status              TEXT NOT NULL,
    service             TEXT NOT NULL DEFAULT '',
    env                 TEXT NOT NULL DEFAULT '',
    severity            TEXT NOT NULL DEFAULT '',
    critical            BOOLEAN NOT NULL DEFAULT FALSE, -- gohere.Alert.Critical: counts as a failed change
    summary             TEXT NOT NULL DEFAULT '',
    labels              TEXT NOT NULL DEFAULT '{}',
    generator_url       TEXT NOT NULL DEFAULT '',
    starts_at           BIGINT NOT NULL,
    ends_at             BIGINT,
    received_at         BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    annotation_id       BIGINT NOT NULL DEFAULT 0,
    annotation_due_at   BIGINT,
    annotation_attempts INTEGER NOT NULL DEFAULT 0,
    annotation_error    TEXT NOT NULL DEFAULT '',
    UNIQUE (source, fingerprint, starts_at)
);
CREATE INDEX alerts_service_started ON alerts (service, starts_at);
CREATE INDEX alerts_started ON alerts (starts_at);
CREATE INDEX alerts_annotation_due ON alerts (annotation_due_at, id) WHERE annotation_due_at IS NOT NULL;

CREATE TABLE alert_correlations (
    alert_id  BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    deploy_id TEXT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    rank      INTEGER NOT NULL,
    score     DOUBLE PRECISION NOT NULL,
    reason    TEXT NOT NULL,
    dark      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (alert_id, deploy_id)
);
CREATE INDEX alert_correlations_deploy ON alert_correlations (deploy_id);

-- Deploys finished within the window before an alert are found by their
-- finish, however long ago they started.
CREATE INDEX deploys_service_env_finished ON deploys (service, env, finished_at);

-- The deploy's newest commit time, for the DORA lead time for changes
-- (commit to deploy); NULL when the pipeline did not say.
ALTER TABLE deploys ADD COLUMN commit_time BIGINT;

-- +goose Down
ALTER TABLE deploys DROP COLUMN commit_time;
DROP INDEX deploys_service_env_finished;
DROP TABLE alert_correlations;
DROP TABLE alerts;
