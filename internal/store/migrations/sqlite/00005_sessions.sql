-- Sign-ins of people on the pages (see store/sessions.go).
-- Keep in step with ../postgres/00005_sessions.sql: the same text.
-- Times are Unix microseconds, UTC.

-- +goose Up
-- The cookie's secret is never stored: id_hash is the hex SHA-256 of it, so
-- a copy of the database signs nobody in.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
