-- The timeline pages newest first by start, then id, filtered by status
-- (?status=failed) or by service alone (the service links of its rows).
-- Without these indexes a status that is rare among a million deploys is
-- found by walking all of them from the newest, and a service's page sorts
-- every deploy of the service (deploys_service_env_started needs the env).
-- Running deploys have the partial index deploys_running. Keep in step
-- with ../sqlite/00010_timeline_status.sql.

-- +goose Up
CREATE INDEX deploys_status_started ON deploys (status, started_at, id);
CREATE INDEX deploys_service_started ON deploys (service, started_at, id);

-- +goose Down
DROP INDEX deploys_service_started;
DROP INDEX deploys_status_started;
