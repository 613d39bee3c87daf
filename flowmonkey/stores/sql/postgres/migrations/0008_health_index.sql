-- Migration 10: flow health (the console's Flows view) reads only the last hour. Starts per
-- minute come from (flow_id, created_at); finishes, by status and duration, from (flow_id,
-- completed_at) with the status and start time in the index, so counting them reads no row.
-- Only finished executions have a completed_at: the partial index stays out of the way
-- of running ones, and is written once per execution.
CREATE INDEX IF NOT EXISTS executions_flow_created ON executions (flow_id, created_at);
CREATE INDEX IF NOT EXISTS executions_flow_completed ON executions (flow_id, completed_at, status, created_at)
    WHERE completed_at IS NOT NULL;
