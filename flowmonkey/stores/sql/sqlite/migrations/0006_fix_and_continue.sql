-- Migration 6: fix and continue. A history record says how to take back its change of the
-- context (undo), so the context before any step can be rebuilt for a retry or a fork;
-- executions may be held (parked for an operator), and a held execution's timeout still
-- runs: the deadline index covers held ones. Additive: the older index stays for 0.1 workers.
ALTER TABLE step_records ADD COLUMN undo TEXT;
CREATE INDEX IF NOT EXISTS executions_deadline ON executions (timeout_at)
    WHERE status IN ('pending', 'running', 'waiting', 'held') AND timeout_at IS NOT NULL;
