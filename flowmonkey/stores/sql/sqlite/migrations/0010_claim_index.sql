-- Migration 7: the claimable executions (pending or running) by id, so that a claim reads
-- them in id order and stops at its limit, instead of reading every pending and running
-- execution from the (status, id) index and sorting them (a backlog of a million pending
-- executions was a million-row sort per claim). The claim names it with INDEXED BY.
CREATE INDEX IF NOT EXISTS executions_ready ON executions (id) WHERE status IN ('pending', 'running');
