-- Migration 1: the tables of executions, their history, idempotency keys, flow definitions,
-- triggers, their slots and fires, and jobs.
CREATE TABLE executions (
    id text PRIMARY KEY, flow_id text NOT NULL, flow_version text NOT NULL, flow_hash text NOT NULL,
    status text NOT NULL, current_step_id text, context jsonb NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    revision integer NOT NULL, step_count integer NOT NULL, attempt integer NOT NULL,
    completed_at timestamptz, wake_at timestamptz, wait_kind text, wait_reason text,
    waiting_since timestamptz, timeout_execution_s double precision, timeout_wait_s double precision,
    timeout_at timestamptz, error jsonb, cancellation jsonb,
    idempotency_key text, idempotency_expires_at timestamptz,
    tenant_id text, parent_execution_id text, parent_step_id text, metadata jsonb NOT NULL,
    lease_owner text, lease_expires_at timestamptz
) WITH (fillfactor = 70);  -- room on the page keeps a step's UPDATE a HOT update
CREATE INDEX executions_status_id ON executions (status, id);
CREATE INDEX executions_flow_id ON executions (flow_id, id);
CREATE INDEX executions_tenant_id ON executions (tenant_id, id) WHERE tenant_id IS NOT NULL;
CREATE INDEX executions_parent ON executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
CREATE INDEX executions_wake ON executions (wake_at)
    WHERE status = 'waiting' AND wake_at IS NOT NULL;
CREATE INDEX executions_timeout ON executions (timeout_at)
    WHERE status IN ('pending', 'running', 'waiting') AND timeout_at IS NOT NULL;
CREATE INDEX executions_lease ON executions (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE step_records (
    execution_id text NOT NULL, sequence integer NOT NULL, step_id text, attempt integer NOT NULL,
    outcome text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL,
    input jsonb, output jsonb, error jsonb, next_step_id text, note text,
    PRIMARY KEY (execution_id, sequence)
);
CREATE TABLE idempotency_keys (
    tenant_id text NOT NULL, flow_id text NOT NULL, key text NOT NULL,
    execution_id text NOT NULL, expires_at timestamptz,
    PRIMARY KEY (tenant_id, flow_id, key)
);
CREATE TABLE definitions (
    hash text PRIMARY KEY, flow_id text NOT NULL, version text NOT NULL, body jsonb NOT NULL
);
CREATE TABLE triggers (
    id text PRIMARY KEY, type text NOT NULL, flow_id text NOT NULL, flow_version text,
    enabled boolean NOT NULL, config jsonb NOT NULL, source text,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    next_run_at timestamptz, last_fired_at timestamptz, last_status text
);
CREATE TABLE trigger_slots (
    trigger_id text NOT NULL, slot_at timestamptz NOT NULL, PRIMARY KEY (trigger_id, slot_at)
);
CREATE TABLE trigger_fires (
    seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, trigger_id text NOT NULL,
    fired_at timestamptz NOT NULL, status text NOT NULL, duration_ms double precision NOT NULL,
    execution_id text, error text, slot_at timestamptz
);
CREATE INDEX trigger_fires_trigger ON trigger_fires (trigger_id, seq);
CREATE TABLE jobs (
    id text PRIMARY KEY, execution_id text NOT NULL, step_id text NOT NULL, attempt integer NOT NULL,
    type text NOT NULL, input jsonb, status text NOT NULL, owner text, fence integer NOT NULL,
    lease_expires_at timestamptz, checkpoint jsonb, result jsonb, error jsonb,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    UNIQUE (execution_id, step_id, attempt)
);
CREATE INDEX jobs_claimable ON jobs (status, created_at);
