-- Migration 3: the leases of active executions by expiry, so that next_wake_at finds when a
-- crashed runtime's claims lapse by reading only the (few) leased rows. IF NOT EXISTS: a
-- database of FlowMonkey 0.1 has it already (its version 2; see migration 2).
CREATE INDEX IF NOT EXISTS executions_leased ON executions (lease_expires_at)
    WHERE lease_owner IS NOT NULL AND status IN ('pending', 'running', 'waiting');
