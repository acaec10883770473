-- Daily rollups of the deploys for the DORA keys (see store/dora.go): a
-- window's whole days are read from here, its partial days at the ends from
-- the deploys, so that 30 days of a million deploys sum a few hundred rows.
-- Triggers keep them in step with every write of deploys, whatever path
-- makes it (create, finish, halt, a backfill by hand). A deploy's service,
-- env, started_at and commit_time are never updated, so only the finish is
-- followed; deploys are never deleted.
-- Keep in step with ../postgres/00008_dora_daily.sql: same tables and
-- buckets; only what the engines spell differently may differ.
-- day is Unix microseconds / 86400000000 (the UTC day); times are Unix
-- microseconds, UTC.

-- +goose Up
-- started counts deploys by the day they started; finished and failed
-- (halted, rolled_back, failed) by the day they finished.
CREATE TABLE dora_daily (
    service  TEXT NOT NULL,
    env      TEXT NOT NULL,
    day      BIGINT NOT NULL,
    started  BIGINT NOT NULL DEFAULT 0,
    finished BIGINT NOT NULL DEFAULT 0,
    failed   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (service, env, day)
);
CREATE INDEX dora_daily_day ON dora_daily (day);

-- Lead times (commit → deploy start) of the deploys started that day, as a
-- histogram: bucket b holds [2^(b/32), 2^((b+1)/32)) seconds (under a
-- second in bucket 0), so a bucket's middle is within 1.1 % of its values.
CREATE TABLE dora_lead (
    service TEXT NOT NULL,
    env     TEXT NOT NULL,
    day     BIGINT NOT NULL,
    bucket  INTEGER NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (service, env, day, bucket)
);
CREATE INDEX dora_lead_day ON dora_lead (day);

-- The partial days of a window are read from the deploys by finish, of all
-- services or of one in every env (by start: 00010's indexes).
CREATE INDEX deploys_finished ON deploys (finished_at);
CREATE INDEX deploys_service_finished ON deploys (service, finished_at);

INSERT INTO dora_daily (service, env, day, started)
    SELECT service, env, started_at / 86400000000, COUNT(*) FROM deploys GROUP BY 1, 2, 3;
INSERT INTO dora_daily (service, env, day, finished, failed)
    SELECT service, env, finished_at / 86400000000, COUNT(*), SUM(status IN ('halted', 'rolled_back', 'failed'))
    FROM deploys WHERE finished_at IS NOT NULL GROUP BY 1, 2, 3
    ON CONFLICT (service, env, day) DO UPDATE SET finished = excluded.finished, failed = excluded.failed;
INSERT INTO dora_lead (service, env, day, bucket, n)
    SELECT service, env, started_at / 86400000000,
        CAST(floor(32 * log2(max((started_at - commit_time) / 1e6, 1.0))) AS INTEGER), COUNT(*)
    FROM deploys WHERE commit_time IS NOT NULL GROUP BY 1, 2, 3, 4;

-- +goose StatementBegin
CREATE TRIGGER deploys_dora_insert AFTER INSERT ON deploys
BEGIN
    INSERT INTO dora_daily (service, env, day, started) VALUES (NEW.service, NEW.env, NEW.started_at / 86400000000, 1)
        ON CONFLICT (service, env, day) DO UPDATE SET started = started + 1;
    INSERT INTO dora_daily (service, env, day, finished, failed)
        SELECT NEW.service, NEW.env, NEW.finished_at / 86400000000, 1, NEW.status IN ('halted', 'rolled_back', 'failed')
        WHERE NEW.finished_at IS NOT NULL
        ON CONFLICT (service, env, day) DO UPDATE SET finished = finished + 1, failed = failed + excluded.failed;
    INSERT INTO dora_lead (service, env, day, bucket, n)
        SELECT NEW.service, NEW.env, NEW.started_at / 86400000000,
            CAST(floor(32 * log2(max((NEW.started_at - NEW.commit_time) / 1e6, 1.0))) AS INTEGER), 1
        WHERE NEW.commit_time IS NOT NULL
        ON CONFLICT (service, env, day, bucket) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER deploys_dora_finish AFTER UPDATE OF status, finished_at ON deploys
WHEN OLD.finished_at IS NOT NEW.finished_at OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE dora_daily SET finished = finished - 1, failed = failed - (OLD.status IN ('halted', 'rolled_back', 'failed'))
        WHERE OLD.finished_at IS NOT NULL AND service = OLD.service AND env = OLD.env AND day = OLD.finished_at / 86400000000;
    INSERT INTO dora_daily (service, env, day, finished, failed)
        SELECT NEW.service, NEW.env, NEW.finished_at / 86400000000, 1, NEW.status IN ('halted', 'rolled_back', 'failed')
        WHERE NEW.finished_at IS NOT NULL
        ON CONFLICT (service, env, day) DO UPDATE SET finished = finished + 1, failed = failed + excluded.failed;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER deploys_dora_finish;
DROP TRIGGER deploys_dora_insert;
DROP INDEX deploys_service_finished;
DROP INDEX deploys_finished;
DROP TABLE dora_lead;
DROP TABLE dora_daily;
