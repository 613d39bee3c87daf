-- The SQLite store's fixed queries, each under its name (see flowmonkey/stores/_sql.py).
-- {executions} and the like are the tables' column lists; times are integer microseconds
-- since the Unix epoch (UTC). A step's commit is built per shape of change, in Python
-- (flowmonkey/stores/_sqlite_commit.py); so are the filters of listings (_query.py).

-- name: execution
SELECT {executions} FROM executions WHERE id = ?

-- name: executions
-- The filter, order and limit of a listing are appended.
SELECT {executions} FROM executions

-- name: insert_execution
INSERT INTO executions ({executions}) VALUES ({executions_params})

-- name: idempotency_key
SELECT execution_id, expires_at FROM idempotency_keys WHERE tenant_id = ? AND flow_id = ? AND key = ?

-- name: take_idempotency_key
INSERT OR REPLACE INTO idempotency_keys (tenant_id, flow_id, key, execution_id, expires_at)
VALUES (?, ?, ?, ?, ?)

-- name: wake_parent
-- A child ended: in the same transaction, its parent's revision moves on (a commit the
-- parent is about to make loses and re-reads) and a step waiting on the child is due.
UPDATE executions SET revision = revision + 1, updated_at = :at,
    wake_at = CASE WHEN status = 'waiting' AND wait_kind = 'handler' THEN :at ELSE wake_at END
WHERE id = :parent AND status IN ('pending', 'running', 'waiting')

-- name: history
SELECT {step_records} FROM step_records WHERE execution_id = ? ORDER BY sequence

-- name: feed_after
-- The change feed (migration 7) after a position, oldest first: the flow comes from the
-- execution (NULL once it is deleted).
SELECT seq, (SELECT flow_id FROM executions WHERE id = change_feed.execution_id), {step_records}
FROM change_feed JOIN step_records USING (execution_id, sequence)
WHERE seq > ? ORDER BY seq LIMIT ?

-- name: feed_tail
-- The newest records of the change feed, newest first.
SELECT seq, (SELECT flow_id FROM executions WHERE id = change_feed.execution_id), {step_records}
FROM change_feed JOIN step_records USING (execution_id, sequence)
ORDER BY seq DESC LIMIT ?

-- name: save_definition
INSERT OR IGNORE INTO definitions (hash, flow_id, version, body) VALUES (?, ?, ?, ?)

-- name: definition
SELECT body FROM definitions WHERE hash = ?

-- name: claimable_ready
-- Claims read two index-friendly scans (ready by id, due waits by wake time) instead of
-- one OR; INDEXED BY because without ANALYZE statistics SQLite prefers the status index.
SELECT {executions} FROM executions INDEXED BY executions_ready
WHERE status IN ('pending', 'running') AND (lease_expires_at IS NULL OR lease_expires_at <= :now)
ORDER BY id LIMIT :limit

-- name: claimable_due
SELECT {executions} FROM executions INDEXED BY executions_wake
WHERE status = 'waiting' AND wake_at <= :now AND (lease_expires_at IS NULL OR lease_expires_at <= :now)
ORDER BY wake_at LIMIT :limit

-- name: lease
UPDATE executions SET lease_owner = ?, lease_expires_at = ? WHERE id = ?

-- name: renew_lease
UPDATE executions SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?

-- name: release_lease
UPDATE executions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?

-- name: next_unleased_wake
-- next_wake_at is the least of three minimums, each read from its partial index.
SELECT MIN(wake_at) FROM executions INDEXED BY executions_wake
WHERE status = 'waiting' AND wake_at IS NOT NULL AND lease_owner IS NULL

-- name: next_timeout
SELECT MIN(timeout_at) FROM executions INDEXED BY executions_deadline
WHERE status IN ('pending', 'running', 'waiting', 'held') AND timeout_at IS NOT NULL

-- name: next_lease_lapse
-- When another owner's lease lapses (for a waiting execution, the later of that and its
-- wake); ? is the owner to leave out.
SELECT MIN(CASE WHEN status = 'waiting' THEN MAX(wake_at, lease_expires_at) ELSE lease_expires_at END)
FROM executions INDEXED BY executions_leased
WHERE lease_owner IS NOT NULL AND status IN ('pending', 'running', 'waiting') AND lease_owner IS NOT ?
  AND (status <> 'waiting' OR wake_at IS NOT NULL)

-- name: timed_out
SELECT {executions} FROM executions INDEXED BY executions_deadline
WHERE status IN ('pending', 'running', 'waiting', 'held') AND timeout_at <= ? ORDER BY timeout_at LIMIT ?

-- name: save_trigger
INSERT OR REPLACE INTO triggers ({triggers}) VALUES ({triggers_params})

-- name: trigger
SELECT {triggers} FROM triggers WHERE id = ?

-- name: triggers
SELECT {triggers} FROM triggers ORDER BY id

-- name: delete_trigger
DELETE FROM triggers WHERE id = ?

-- name: claim_slot
INSERT OR IGNORE INTO trigger_slots (trigger_id, slot_at) VALUES (?, ?)

-- name: record_fire
INSERT INTO trigger_fires ({trigger_fires}) VALUES ({trigger_fires_params})

-- name: trigger_history
SELECT {trigger_fires} FROM trigger_fires WHERE trigger_id = ? ORDER BY seq DESC LIMIT ?

-- name: forget_signatures
DELETE FROM webhook_signatures WHERE expires_at <= ?

-- name: claim_signature
-- Insert the claim, or take over a row that no longer holds its signature: expired, or
-- claimed before ? by a delivery that never said what it started.
INSERT INTO webhook_signatures ({webhook_signatures}) VALUES ({webhook_signatures_params})
ON CONFLICT (trigger_id, signature) DO UPDATE
SET execution_id = excluded.execution_id, seen_at = excluded.seen_at, expires_at = excluded.expires_at
WHERE webhook_signatures.expires_at <= excluded.seen_at
   OR (webhook_signatures.execution_id IS NULL AND webhook_signatures.seen_at < ?)

-- name: signature
SELECT {webhook_signatures} FROM webhook_signatures WHERE trigger_id = ? AND signature = ?

-- name: settle_signature
UPDATE webhook_signatures SET execution_id = ? WHERE trigger_id = ? AND signature = ?

-- name: drop_signature_claim
DELETE FROM webhook_signatures WHERE trigger_id = ? AND signature = ? AND execution_id IS NULL

-- name: job
SELECT {jobs} FROM jobs WHERE id = ?

-- name: forget_job
-- A finished (or abandoned) job of an earlier visit of the step, making way for a revisit's.
DELETE FROM jobs WHERE id = ?

-- name: job_of_step
SELECT {jobs} FROM jobs WHERE execution_id = ? AND step_id = ? AND attempt = ?

-- name: insert_job
INSERT INTO jobs ({jobs}) VALUES ({jobs_params})

-- name: claimable_jobs
-- Pending jobs, and running ones whose lease lapsed.
SELECT id FROM jobs
WHERE status = 'pending' OR (status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= ?))
ORDER BY created_at, id LIMIT ?

-- name: claim_job
-- Every claim bumps the fence: the runner of an older claim can no longer write.
UPDATE jobs SET status = 'running', owner = ?, fence = fence + 1, lease_expires_at = ?, updated_at = ?
WHERE id = ?

-- name: heartbeat_job
UPDATE jobs SET lease_expires_at = ?, checkpoint = COALESCE(?, checkpoint)
WHERE id = ? AND fence = ? AND status = 'running'

-- name: finish_job
UPDATE jobs SET status = ?, result = ?, error = ?, updated_at = ?, lease_expires_at = NULL
WHERE id = ? AND fence = ? AND status = 'running'

-- name: health_finished
-- Flow health (flowmonkey/stores/health.py): the window's finishes by status, from the index.
SELECT status, COUNT(*) FROM executions INDEXED BY executions_flow_completed
WHERE flow_id = :flow AND completed_at >= :since AND completed_at < :until GROUP BY status

-- name: health_durations
-- The latest finishes' durations in microseconds (a bounded sample for the p95).
SELECT completed_at - created_at FROM executions INDEXED BY executions_flow_completed
WHERE flow_id = :flow AND completed_at >= :since AND completed_at < :until AND status <> 'cancelled'
ORDER BY completed_at DESC LIMIT :limit

-- name: health_started
SELECT (created_at - :since) / 60000000, COUNT(*) FROM executions INDEXED BY executions_flow_created
WHERE flow_id = :flow AND created_at >= :since AND created_at < :until GROUP BY 1

-- name: health_steps
-- The step runs of the latest executions started in the window: (step, outcome, microseconds).
SELECT step_id, outcome, finished_at - started_at FROM step_records
WHERE step_id IS NOT NULL AND execution_id IN (
    SELECT id FROM executions INDEXED BY executions_flow_created
    WHERE flow_id = :flow AND created_at >= :since AND created_at < :until
    ORDER BY created_at DESC LIMIT :limit)

-- Retention (flowmonkey/stores/_sqlite_retention.py): a batch examines the next executions
-- of one finished status in id order (the status index) up to a bound, and deletes those
-- no rule keeps. A prune of old rows composes "DELETE FROM <table> WHERE <key> IN (...)"
-- from the selections named old_*.

-- name: prune_examined
SELECT max(id), count(*) FROM (
    SELECT id FROM executions WHERE status = ? AND id > ? AND id < ? ORDER BY id LIMIT ?
)

-- name: prunable
-- Finished before :before, of :flow if given; no live idempotency key (NULL: never
-- expires); no parent that is still active.
SELECT e.id, e.flow_id, e.tenant_id, e.idempotency_key FROM executions AS e
WHERE e.status = :status AND e.id > :after AND e.id <= :last
  AND e.completed_at < :before AND (:flow IS NULL OR e.flow_id = :flow)
  AND (e.idempotency_key IS NULL OR e.idempotency_expires_at <= :now)
  AND NOT EXISTS (
      SELECT 1 FROM executions AS p WHERE p.id = e.parent_execution_id
      AND p.status IN ('pending', 'running', 'waiting', 'held')
  )

-- name: forget_execution
DELETE FROM executions WHERE id = ?

-- name: forget_history
DELETE FROM step_records WHERE execution_id = ?

-- name: forget_jobs
DELETE FROM jobs WHERE execution_id = ?

-- name: forget_fan_children
-- The join rows of a pruned execution's fans (as a parent) and its own (as a child).
DELETE FROM fan_children WHERE fan_id IN (SELECT fan_id FROM fan_ins WHERE parent_id = ?) OR child_id = ?

-- name: forget_fans
DELETE FROM fan_ins WHERE parent_id = ?

-- name: forget_idempotency_key
-- Only the entry that still names this execution: a newer one that took an expired key over stays.
DELETE FROM idempotency_keys WHERE tenant_id = ? AND flow_id = ? AND key = ? AND execution_id = ?

-- name: old_trigger_fires
SELECT seq FROM trigger_fires WHERE fired_at < ? ORDER BY seq LIMIT ?

-- name: old_trigger_slots
-- A slot before its trigger's next_run_at is never planned again (nor one of a trigger gone).
SELECT s.trigger_id, s.slot_at FROM trigger_slots AS s LEFT JOIN triggers AS t ON t.id = s.trigger_id
WHERE s.slot_at < ? AND (t.next_run_at IS NULL OR s.slot_at < t.next_run_at)
ORDER BY s.trigger_id, s.slot_at LIMIT ?

-- name: old_signatures
SELECT trigger_id, signature FROM webhook_signatures WHERE expires_at < ? ORDER BY expires_at LIMIT ?

-- name: old_feed
-- The change feed's oldest positions (at most ?2) before the first whose record is still
-- stored and finished at or after ?1: those of records that went with their executions,
-- and of records older than the retention. The position order is the order of commits,
-- so the scan reads the feed's head, ?2 positions at most, never the whole feed.
SELECT seq FROM change_feed
WHERE seq < coalesce(
    (SELECT f.seq FROM change_feed AS f
     JOIN step_records AS r ON r.execution_id = f.execution_id AND r.sequence = f.sequence
     WHERE r.finished_at >= ?1
       AND f.seq <= coalesce(
           (SELECT seq FROM change_feed ORDER BY seq LIMIT 1 OFFSET ?2 - 1), 9223372036854775807)
     ORDER BY f.seq LIMIT 1),
    9223372036854775807)
ORDER BY seq LIMIT ?2
