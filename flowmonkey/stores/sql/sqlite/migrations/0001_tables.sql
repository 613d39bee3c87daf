-- Migration 1: the tables of executions, their history, idempotency keys, flow definitions,
-- triggers, their slots and fires, and jobs. Times are integer microseconds since the Unix
-- epoch (UTC); JSON is text.
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY, flow_id TEXT NOT NULL, flow_version TEXT NOT NULL, flow_hash TEXT NOT NULL,
    status TEXT NOT NULL, current_step_id TEXT, context TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    revision INTEGER NOT NULL, step_count INTEGER NOT NULL, attempt INTEGER NOT NULL,
    completed_at INTEGER, wake_at INTEGER, wait_kind TEXT, wait_reason TEXT, waiting_since INTEGER,
    timeout_execution_s REAL, timeout_wait_s REAL, timeout_at INTEGER,
    error TEXT, cancellation TEXT, idempotency_key TEXT, idempotency_expires_at INTEGER,
    tenant_id TEXT, parent_execution_id TEXT, parent_step_id TEXT, metadata TEXT NOT NULL,
    lease_owner TEXT, lease_expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS executions_status_id ON executions (status, id);
CREATE INDEX IF NOT EXISTS executions_flow_id ON executions (flow_id, id);
CREATE INDEX IF NOT EXISTS executions_tenant_id ON executions (tenant_id, id) WHERE tenant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_parent ON executions (parent_execution_id)
    WHERE parent_execution_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_wake ON executions (wake_at)
    WHERE status = 'waiting' AND wake_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_timeout ON executions (timeout_at)
    WHERE status IN ('pending', 'running', 'waiting') AND timeout_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_lease ON executions (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS step_records (
    execution_id TEXT NOT NULL, sequence INTEGER NOT NULL, step_id TEXT, attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL,
    input TEXT, output TEXT, error TEXT, next_step_id TEXT, note TEXT,
    PRIMARY KEY (execution_id, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    tenant_id TEXT NOT NULL, flow_id TEXT NOT NULL, key TEXT NOT NULL,
    execution_id TEXT NOT NULL, expires_at INTEGER,
    PRIMARY KEY (tenant_id, flow_id, key)
);
CREATE TABLE IF NOT EXISTS definitions (
    hash TEXT PRIMARY KEY, flow_id TEXT NOT NULL, version TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS triggers (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, flow_id TEXT NOT NULL, flow_version TEXT,
    enabled INTEGER NOT NULL, config TEXT NOT NULL, source TEXT,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    next_run_at INTEGER, last_fired_at INTEGER, last_status TEXT
);
CREATE TABLE IF NOT EXISTS trigger_slots (
    trigger_id TEXT NOT NULL, slot_at INTEGER NOT NULL, PRIMARY KEY (trigger_id, slot_at)
);
CREATE TABLE IF NOT EXISTS trigger_fires (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, trigger_id TEXT NOT NULL, fired_at INTEGER NOT NULL,
    status TEXT NOT NULL, duration_ms REAL NOT NULL, execution_id TEXT, error TEXT, slot_at INTEGER
);
CREATE INDEX IF NOT EXISTS trigger_fires_trigger ON trigger_fires (trigger_id, seq);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, execution_id TEXT NOT NULL, step_id TEXT NOT NULL, attempt INTEGER NOT NULL,
    type TEXT NOT NULL, input TEXT, status TEXT NOT NULL, owner TEXT, fence INTEGER NOT NULL,
    lease_expires_at INTEGER, checkpoint TEXT, result TEXT, error TEXT,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    UNIQUE (execution_id, step_id, attempt)
);
CREATE INDEX IF NOT EXISTS jobs_claimable ON jobs (status, created_at);
