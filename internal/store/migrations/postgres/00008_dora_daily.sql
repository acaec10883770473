-- Daily rollups of the deploys for the DORA keys (see store/dora.go): a
-- window's whole days are read from here, its partial days at the ends from
-- the deploys, so that 30 days of a million deploys sum a few hundred rows.
-- Triggers keep them in step with every write of deploys, whatever path
-- makes it (create, finish, halt, a backfill by hand). A deploy's service,
-- env, started_at and commit_time are never updated, so only the finish is
-- followed; deploys are never deleted.
-- Keep in step with ../sqlite/00008_dora_daily.sql: same tables and
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
    SELECT service, env, finished_at / 86400000000, COUNT(*), COUNT(*) FILTER (WHERE status IN ('halted', 'rolled_back', 'failed'))
    FROM deploys WHERE finished_at IS NOT NULL GROUP BY 1, 2, 3
    ON CONFLICT (service, env, day) DO UPDATE SET finished = EXCLUDED.finished, failed = EXCLUDED.failed;
INSERT INTO dora_lead (service, env, day, bucket, n)
    SELECT service, env, started_at / 86400000000,
        floor(32 * log(2, GREATEST((started_at - commit_time) / 1e6, 1.0)))::integer, COUNT(*)
    FROM deploys WHERE commit_time IS NOT NULL GROUP BY 1, 2, 3, 4;

-- Statement-level, over the transition tables: a bulk INSERT adds to each
-- rollup row once, where a row trigger would update it once per deploy
-- (and PostgreSQL keeps every version of it until the statement ends).
-- +goose StatementBegin
CREATE FUNCTION deploys_dora_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dora_daily (service, env, day, started)
        SELECT service, env, started_at / 86400000000, COUNT(*) FROM new_rows GROUP BY 1, 2, 3
        ON CONFLICT (service, env, day) DO UPDATE SET started = dora_daily.started + EXCLUDED.started;
    INSERT INTO dora_daily (service, env, day, finished, failed)
        SELECT service, env, finished_at / 86400000000, COUNT(*), COUNT(*) FILTER (WHERE status IN ('halted', 'rolled_back', 'failed'))
        FROM new_rows WHERE finished_at IS NOT NULL GROUP BY 1, 2, 3
        ON CONFLICT (service, env, day) DO UPDATE
        SET finished = dora_daily.finished + EXCLUDED.finished, failed = dora_daily.failed + EXCLUDED.failed;
    INSERT INTO dora_lead (service, env, day, bucket, n)
        SELECT service, env, started_at / 86400000000,
            floor(32 * log(2, GREATEST((started_at - commit_time) / 1e6, 1.0)))::integer, COUNT(*)
        FROM new_rows WHERE commit_time IS NOT NULL GROUP BY 1, 2, 3, 4
        ON CONFLICT (service, env, day, bucket) DO UPDATE SET n = dora_lead.n + EXCLUDED.n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- A finish moves a deploy's count from where it was (nowhere while
-- running) to its finish day and status: +1 there, -1 here, in one upsert.
-- +goose StatementBegin
CREATE FUNCTION deploys_dora_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dora_daily (service, env, day, finished, failed)
        SELECT service, env, day, SUM(finished), SUM(failed) FROM (
            SELECT n.service, n.env, n.finished_at / 86400000000 AS day, 1 AS finished,
                CASE WHEN n.status IN ('halted', 'rolled_back', 'failed') THEN 1 ELSE 0 END AS failed
            FROM old_rows o JOIN new_rows n USING (id)
            WHERE n.finished_at IS NOT NULL AND (o.finished_at IS DISTINCT FROM n.finished_at OR o.status <> n.status)
            UNION ALL
            SELECT o.service, o.env, o.finished_at / 86400000000, -1,
                CASE WHEN o.status IN ('halted', 'rolled_back', 'failed') THEN -1 ELSE 0 END
            FROM old_rows o JOIN new_rows n USING (id)
            WHERE o.finished_at IS NOT NULL AND (o.finished_at IS DISTINCT FROM n.finished_at OR o.status <> n.status)
        ) moved GROUP BY 1, 2, 3
        ON CONFLICT (service, env, day) DO UPDATE
        SET finished = dora_daily.finished + EXCLUDED.finished, failed = dora_daily.failed + EXCLUDED.failed;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER deploys_dora_insert AFTER INSERT ON deploys
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deploys_dora_inserted();
CREATE TRIGGER deploys_dora_finish AFTER UPDATE ON deploys
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deploys_dora_finished();

-- +goose Down
DROP TRIGGER deploys_dora_finish ON deploys;
DROP TRIGGER deploys_dora_insert ON deploys;
DROP FUNCTION deploys_dora_finished();
DROP FUNCTION deploys_dora_inserted();
DROP INDEX deploys_service_finished;
DROP INDEX deploys_finished;
DROP TABLE dora_lead;
DROP TABLE dora_daily;
