-- The push train (see store/trains.go and internal/train): one row per
-- train holding its whole state, and the train's own message queue.
-- Keep in step with ../sqlite/00009_trains.sql: the same text but the id.
-- Times are Unix microseconds, UTC.

-- +goose Up
-- state is the train as JSON (train.Train): a few cars of a few people,
-- always read and written whole under the row's lock by one action, so
-- that the rules live in one place (internal/train) and not in SQL.
-- version counts the changes.
CREATE TABLE trains (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    stopped    BOOLEAN NOT NULL DEFAULT FALSE,
    version    BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per change of a train that the push channel must hear of,
-- queued in the change's transaction (the notifications table is keyed by
-- deploy, and a train is not a deploy). seq is the train's version after
-- the change: each change is told once. delivered lists the destinations
-- already sent to, one per line, as in notifications.
CREATE TABLE train_messages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    train           TEXT NOT NULL REFERENCES trains (name) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    event           TEXT NOT NULL,
    happened_at     BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    delivered       TEXT NOT NULL DEFAULT '',
    done_at         BIGINT,
    UNIQUE (train, seq)
);
CREATE INDEX train_messages_due ON train_messages (next_attempt_at, id) WHERE done_at IS NULL;
CREATE INDEX train_messages_pending ON train_messages (train, id) WHERE done_at IS NULL;

-- +goose Down
DROP TABLE train_messages;
DROP TABLE trains;
