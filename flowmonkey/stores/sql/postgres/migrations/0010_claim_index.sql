-- Migration 7: the claimable executions (pending or running) by id, so that a claim reads
-- the few rows it takes and not every execution of those statuses the status index still
-- points to: a status change is not a HOT update, so each execution leaves index entries
-- for its old statuses until VACUUM, and a bitmap scan of the (status, id) index visited
-- them all (2,000 dead entries per claim after 2,000 executions) and sorted the rest by id.
-- An ordered scan of this partial index stops at LIMIT and marks dead entries as it passes.
-- Due waits are claimed through executions_wake (migration 1); see the claim query.
CREATE INDEX IF NOT EXISTS executions_ready ON executions (id) WHERE status IN ('pending', 'running');
