-- Migration 5: the webhook signatures seen, so that a signed request delivered again (within
-- its signature's tolerance) answers with the execution its first delivery started and
-- starts nothing: across workers and restarts. A row matters until expires_at (the moment
-- the signature's timestamp leaves the tolerance); execution_id is NULL while the first
-- delivery is still starting its flow. Rows past expires_at are deleted as new ones come.
CREATE TABLE IF NOT EXISTS webhook_signatures (
    trigger_id TEXT NOT NULL, signature TEXT NOT NULL, execution_id TEXT,
    seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    PRIMARY KEY (trigger_id, signature)
);
CREATE INDEX IF NOT EXISTS webhook_signatures_expiry ON webhook_signatures (expires_at);
