-- The push channel's durable queue (see store/notifications.go): one row per
-- state change of a deploy that chat must hear of. Its own table, so that a
-- chat outage never delays Grafana annotations and vice versa.
-- Keep in step with ../postgres/00006_notifications.sql: the same text but the id.
-- Times are Unix microseconds, UTC.

-- +goose Up
-- Rows stay once delivered (done_at set): UNIQUE (deploy_id, event_key) then
-- keeps every state change told once, however often it is enqueued.
-- delivered lists the destinations already sent to (or given up on), one
-- per line, so that a retry after a partial failure sends only the rest.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    deploy_id       TEXT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    event_key       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    analysis_id     TEXT NOT NULL DEFAULT '',
    facts           TEXT NOT NULL DEFAULT '{}',
    happened_at     BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    delivered       TEXT NOT NULL DEFAULT '',
    done_at         BIGINT,
    UNIQUE (deploy_id, event_key)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE done_at IS NULL;
CREATE INDEX notifications_pending ON notifications (deploy_id, id) WHERE done_at IS NULL;

-- +goose Down
DROP TABLE notifications;
