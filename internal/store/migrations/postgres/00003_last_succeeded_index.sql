-- The default baseline of every new deploy is the newest succeeded deploy of
-- its service and env (LastSucceeded). Without this index that lookup walks
-- every earlier deploy of the service and env, so POST /api/v1/deploys got
-- slower with each deploy recorded. Partial: only succeeded deploys, so
-- recording and finishing other deploys does not pay for it. The query must
-- spell the condition as the literal status = 'succeeded' for the planner to
-- match it. Keep in step with ../sqlite/00003_last_succeeded_index.sql.

-- +goose Up
CREATE INDEX deploys_last_succeeded ON deploys (service, env, started_at, id) WHERE status = 'succeeded';

-- +goose Down
DROP INDEX deploys_last_succeeded;
