-- The PostgreSQL store's fixed queries, each under its name (see flowmonkey/stores/_sql.py).
-- {executions} and the like are the tables' column lists. The statements that take a whole
-- batch as typed arrays (creates, step commits) and the create with an idempotency key are
-- built from the column table in Python (flowmonkey/stores/_pg_sql.py); so are the filters
-- of listings (_query.py).

-- name: execution
SELECT {executions} FROM executions WHERE id = $1

-- name: executions
-- The filter, order and limit of a listing are appended.
SELECT {executions} FROM executions

-- name: insert_execution
INSERT INTO executions ({executions}) VALUES ({executions_params})

-- name: holder_of_key
SELECT {executions} FROM executions
WHERE id = (SELECT execution_id FROM idempotency_keys WHERE tenant_id = $1 AND flow_id = $2 AND key = $3)

-- name: wake_parents
-- Children ended: in the same transaction, each parent's revision moves on (a commit the
-- parent is about to make loses and re-reads) and a step waiting on a child is due.
UPDATE executions AS p SET revision = p.revision + 1, updated_at = w.at,
    wake_at = CASE WHEN p.status = 'waiting' AND p.wait_kind = 'handler' THEN w.at ELSE p.wake_at END
FROM (SELECT parent, max(at) AS at FROM unnest($1::text[], $2::timestamptz[]) AS u(parent, at)
    GROUP BY parent ORDER BY parent) AS w  -- in id order, as commits lock rows
WHERE p.id = w.parent AND p.status IN ('pending', 'running', 'waiting')

-- name: history
SELECT {step_records} FROM step_records WHERE execution_id = $1 ORDER BY sequence

-- name: _feed_line
-- The line the change feed reads below (see feed): the oldest transaction open when the
-- statement's snapshot was taken, or the snapshot's xmax when none is.
snapshot AS (SELECT pg_current_snapshot() AS s),
line AS (
    SELECT coalesce(
        (SELECT min(x) FROM snapshot, pg_snapshot_xip(s) AS x WHERE NOT EXISTS (
            SELECT 1 FROM pg_stat_activity AS a WHERE a.backend_xid = x::xid AND a.datname <> current_database()
        )),
        (SELECT pg_snapshot_xmax(s) FROM snapshot)
    ) AS below
)

-- name: feed_after
-- The change feed (migration 7) after the position ($1 transaction id, $2 number), oldest
-- first, up to $3 records, and only below the line of the oldest transaction that was open
-- when the statement's snapshot was taken: every transaction below it has ended, and
-- every later one gets a higher id, so no record can appear there later (a transaction
-- that commits late is read late, never skipped). Transaction ids are the whole server's:
-- an open transaction is passed over only once pg_stat_activity shows it in another
-- database (it cannot write here); one it does not show (ended since, prepared, or not
-- ours to see) holds the line, which can only make the feed later, never skip.
WITH {feed_line}
SELECT feed_xid::text::bigint, feed_seq, (SELECT flow_id FROM executions WHERE id = r.execution_id),
    {step_records}
FROM step_records AS r, line
WHERE feed_xid IS NOT NULL AND (feed_xid, feed_seq) > ($1::text::xid8, $2::bigint) AND feed_xid < line.below
ORDER BY feed_xid, feed_seq LIMIT $3

-- name: feed_tail
-- The newest $1 records of the change feed (below the same line), newest first.
WITH {feed_line}
SELECT feed_xid::text::bigint, feed_seq, (SELECT flow_id FROM executions WHERE id = r.execution_id),
    {step_records}
FROM step_records AS r, line
WHERE feed_xid IS NOT NULL AND feed_xid < line.below
ORDER BY feed_xid DESC, feed_seq DESC LIMIT $1

-- name: save_definition
INSERT INTO definitions (hash, flow_id, version, body) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING

-- name: definition
SELECT body FROM definitions WHERE hash = $1

-- name: claim
-- Lease ($1 owner, $2 until) up to $4 executions runnable at $3: pending or running, or
-- waiting with a due wake, and not leased by anyone (or the lease lapsed). Each row also
-- returns the lease it replaced: a lapsed one is a takeover. Two scans, each served by a
-- partial index in its order and stopped by its LIMIT (the ready by id, executions_ready;
-- the due waits by wake time, executions_wake), rather than one OR that no index serves
-- (CTEs: FOR UPDATE is not allowed in a UNION's branches).
WITH ready AS (
    SELECT id AS claimed_id, lease_owner AS lapsed_owner, lease_expires_at AS lapsed_at FROM executions
    WHERE status IN ('pending', 'running') AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
    ORDER BY id LIMIT $4
    FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id AS claimed_id, lease_owner AS lapsed_owner, lease_expires_at AS lapsed_at FROM executions
    WHERE status = 'waiting' AND wake_at IS NOT NULL AND wake_at <= $3
      AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
    ORDER BY wake_at LIMIT $4
    FOR UPDATE SKIP LOCKED
), chosen AS (
    -- By id across both, as before (and as SQLite does): a steady stream of ready
    -- executions never keeps a due wait from being claimed.
    SELECT * FROM (SELECT * FROM ready UNION ALL SELECT * FROM due) AS both_kinds ORDER BY claimed_id LIMIT $4
)
UPDATE executions AS e SET lease_owner = $1, lease_expires_at = $2
FROM chosen AS c
WHERE e.id = c.claimed_id
RETURNING {executions}, c.lapsed_owner, c.lapsed_at

-- name: counted
-- Executions by status, of one flow ($1) or of all (NULL), from the counters of migration
-- 12: the folded counts and the changes not yet folded, in one snapshot.
SELECT status, sum(n)::bigint FROM (
    SELECT status, n FROM execution_counts WHERE $1::text IS NULL OR flow_id = $1
    UNION ALL
    SELECT status, n FROM execution_count_changes WHERE $1::text IS NULL OR flow_id = $1
) AS both_parts GROUP BY status

-- name: fold_counts
-- The changes noted since the last fold, moved into the counts; by one process at a time
-- ($1: an advisory lock key; a process that does not get it leaves the fold to the other).
-- A change written by a transaction still open is not seen, and stays for the next fold.
WITH folding AS (
    SELECT pg_try_advisory_xact_lock($1) AS mine
), moved AS (
    DELETE FROM execution_count_changes WHERE (SELECT mine FROM folding) RETURNING flow_id, status, n
)
INSERT INTO execution_counts AS c (flow_id, status, n)
SELECT flow_id, status, sum(n) FROM moved GROUP BY flow_id, status ORDER BY flow_id, status
ON CONFLICT (flow_id, status) DO UPDATE SET n = c.n + EXCLUDED.n

-- name: renew_leases
-- The rows locked first, in id order, whatever plan the UPDATE gets (an "id = ANY" bitmap
-- scan locks in the table's order): a batch of commits locks them in id order too, so the
-- two wait on each other at most, never in a cycle (a deadlock costs a second). "IS NOT
-- DISTINCT FROM", which no index serves, keeps the planner off executions_lease, whose
-- entries for this owner include every row it ever leased until VACUUM removes them
-- (measured: ~60 index entries read per step).
UPDATE executions AS e SET lease_expires_at = $3
FROM (SELECT id FROM executions WHERE id = ANY($2::text[]) ORDER BY id FOR UPDATE) AS l
WHERE e.id = l.id AND e.lease_owner IS NOT DISTINCT FROM $1::text RETURNING e.id

-- name: release
-- Locked in id order, as renew_leases.
UPDATE executions AS e SET lease_owner = NULL, lease_expires_at = NULL
FROM (SELECT id FROM executions WHERE id = ANY($2::text[]) ORDER BY id FOR UPDATE) AS l
WHERE e.id = l.id AND e.lease_owner IS NOT DISTINCT FROM $1::text

-- name: next_wake
-- The earliest timeout, unleased wake, and lapse of a lease held by anyone but $1 (each
-- minimum read from its partial index; the leased rows are the few in flight).
SELECT least(
    (SELECT min(wake_at) FROM executions
        WHERE status = 'waiting' AND wake_at IS NOT NULL AND lease_owner IS NULL),
    (SELECT min(timeout_at) FROM executions
        WHERE status IN ('pending', 'running', 'waiting', 'held') AND timeout_at IS NOT NULL),
    (SELECT min(CASE WHEN status = 'waiting' THEN greatest(wake_at, lease_expires_at) ELSE lease_expires_at END)
        FROM executions
        WHERE lease_owner IS NOT NULL AND status IN ('pending', 'running', 'waiting')
          AND lease_owner IS DISTINCT FROM $1::text
          AND (status <> 'waiting' OR wake_at IS NOT NULL))
)

-- name: timed_out
SELECT {executions} FROM executions
WHERE status IN ('pending', 'running', 'waiting', 'held') AND timeout_at <= $1 ORDER BY timeout_at LIMIT $2

-- name: insert_trigger
-- ON CONFLICT (id) DO UPDATE of every other column is appended (_pg_sql.SAVE_TRIGGER).
INSERT INTO triggers ({triggers}) VALUES ({triggers_params})

-- name: trigger
SELECT {triggers} FROM triggers WHERE id = $1

-- name: triggers
SELECT {triggers} FROM triggers ORDER BY id

-- name: delete_trigger
DELETE FROM triggers WHERE id = $1

-- name: claim_slot
INSERT INTO trigger_slots (trigger_id, slot_at) VALUES ($1, $2) ON CONFLICT DO NOTHING

-- name: record_fire
INSERT INTO trigger_fires ({trigger_fires}) VALUES ({trigger_fires_params})

-- name: trigger_history
SELECT {trigger_fires} FROM trigger_fires WHERE trigger_id = $1 ORDER BY seq DESC LIMIT $2

-- name: forget_signatures
DELETE FROM webhook_signatures WHERE expires_at <= $1

-- name: claim_signature
-- Insert the claim, or take over a row that no longer holds its signature: expired, or
-- claimed before $6 by a delivery that never said what it started.
INSERT INTO webhook_signatures ({webhook_signatures}) VALUES ({webhook_signatures_params})
ON CONFLICT (trigger_id, signature) DO UPDATE
SET execution_id = excluded.execution_id, seen_at = excluded.seen_at, expires_at = excluded.expires_at
WHERE webhook_signatures.expires_at <= excluded.seen_at
   OR (webhook_signatures.execution_id IS NULL AND webhook_signatures.seen_at < $6)

-- name: signature
SELECT {webhook_signatures} FROM webhook_signatures WHERE trigger_id = $1 AND signature = $2

-- name: settle_signature
UPDATE webhook_signatures SET execution_id = $1 WHERE trigger_id = $2 AND signature = $3

-- name: drop_signature_claim
DELETE FROM webhook_signatures WHERE trigger_id = $1 AND signature = $2 AND execution_id IS NULL

-- name: job
SELECT {jobs} FROM jobs WHERE id = $1

-- name: forget_job
-- A finished (or abandoned) job of an earlier visit of the step, making way for a revisit's.
DELETE FROM jobs WHERE id = $1

-- name: job_of_step
SELECT {jobs} FROM jobs WHERE execution_id = $1 AND step_id = $2 AND attempt = $3

-- name: enqueue_job
INSERT INTO jobs ({jobs}) VALUES ({jobs_params})
ON CONFLICT (execution_id, step_id, attempt) DO NOTHING RETURNING id

-- name: claim_jobs
-- Pending jobs, and running ones whose lease lapsed at $3; every claim bumps the fence, so
-- the runner of an older claim can no longer write.
UPDATE jobs AS j SET status = 'running', owner = $1, fence = j.fence + 1, lease_expires_at = $2, updated_at = $3
FROM (
    SELECT id AS claimed_id FROM jobs
    WHERE status = 'pending' OR (status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= $3))
    ORDER BY created_at, id LIMIT $4
    FOR UPDATE SKIP LOCKED
) AS c
WHERE j.id = c.claimed_id
RETURNING {jobs}

-- name: heartbeat_job
UPDATE jobs SET lease_expires_at = $3, checkpoint = coalesce($4::jsonb, checkpoint)
WHERE id = $1 AND fence = $2 AND status = 'running'

-- name: finish_job
UPDATE jobs SET status = $3, result = $4, error = $5, updated_at = $6, lease_expires_at = NULL
WHERE id = $1 AND fence = $2 AND status = 'running'

-- name: health_finished
-- Flow health (flowmonkey/stores/health.py): the window's finishes by status, from the index.
SELECT status, count(*) FROM executions
WHERE flow_id = $1 AND completed_at >= $2 AND completed_at < $3 GROUP BY status

-- name: health_durations
-- The latest finishes' durations in milliseconds (a bounded sample for the p95).
SELECT extract(epoch FROM completed_at - created_at)::float8 * 1000 FROM executions
WHERE flow_id = $1 AND completed_at >= $2 AND completed_at < $3 AND status <> 'cancelled'
ORDER BY completed_at DESC LIMIT $4

-- name: health_started
SELECT floor(extract(epoch FROM created_at - $2) / 60)::int, count(*)::int FROM executions
WHERE flow_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1

-- name: health_steps
-- The step runs of the latest executions started in the window: (step, outcome, milliseconds).
SELECT r.step_id, r.outcome, extract(epoch FROM r.finished_at - r.started_at)::float8 * 1000
FROM step_records r
WHERE r.step_id IS NOT NULL AND r.execution_id IN (
    SELECT id FROM executions WHERE flow_id = $1 AND created_at >= $2 AND created_at < $3
    ORDER BY created_at DESC LIMIT $4)

-- Retention (flowmonkey/stores/_pg_retention.py): a batch examines the next executions of
-- one finished status in id order (the status index) up to a bound, and deletes those no
-- rule keeps, in one transaction. A prune of old rows composes
-- "DELETE FROM <table> WHERE <key> IN (...)" from the selections named old_*.

-- name: prune_examined
SELECT max(id), count(*) FROM (
    SELECT id FROM executions WHERE status = $1 AND id > $2 AND id < $3 ORDER BY id LIMIT $4
) AS examined

-- name: prunable
-- Finished before $4, of flow $5 if given; no live idempotency key (NULL: never expires);
-- no parent that is still active.
SELECT e.id, e.flow_id FROM executions AS e
WHERE e.status = $1 AND e.id > $2 AND e.id <= $3
  AND e.completed_at < $4 AND ($5::text IS NULL OR e.flow_id = $5)
  AND (e.idempotency_key IS NULL OR e.idempotency_expires_at <= $6)
  AND NOT EXISTS (
      SELECT 1 FROM executions AS p WHERE p.id = e.parent_execution_id
      AND p.status IN ('pending', 'running', 'waiting', 'held')
  )

-- name: prune_executions
-- The executions (still of the status examined), their history, jobs and idempotency
-- entries (only an entry that still names the execution: a newer one that took an expired
-- key over stays). Arrays with = ANY keep every delete on its index.
WITH gone AS (
    DELETE FROM executions WHERE id = ANY($1::text[]) AND status = $2
    RETURNING id, coalesce(tenant_id, '') AS tenant_id, flow_id, idempotency_key
), history AS (
    DELETE FROM step_records WHERE execution_id = ANY(ARRAY(SELECT id FROM gone))
), jobs_gone AS (
    DELETE FROM jobs WHERE execution_id = ANY(ARRAY(SELECT id FROM gone))
), fans_gone AS (
    DELETE FROM fan_ins WHERE parent_id = ANY(ARRAY(SELECT id FROM gone)) RETURNING fan_id
), members_gone AS (
    -- the join rows of its fans (as a parent) and its own (as a child)
    DELETE FROM fan_children
    WHERE fan_id = ANY(ARRAY(SELECT fan_id FROM fans_gone)) OR child_id = ANY(ARRAY(SELECT id FROM gone))
), keys_gone AS (
    DELETE FROM idempotency_keys AS k USING gone AS g
    WHERE k.tenant_id = g.tenant_id AND k.flow_id = g.flow_id AND k.key = g.idempotency_key
      AND k.execution_id = g.id
)
SELECT flow_id, count(*) FROM gone GROUP BY flow_id

-- name: old_trigger_fires
SELECT seq FROM trigger_fires WHERE fired_at < $1 ORDER BY seq LIMIT $2

-- name: old_trigger_slots
-- A slot before its trigger's next_run_at is never planned again (nor one of a trigger gone).
SELECT s.trigger_id, s.slot_at FROM trigger_slots AS s LEFT JOIN triggers AS t ON t.id = s.trigger_id
WHERE s.slot_at < $1 AND (t.next_run_at IS NULL OR s.slot_at < t.next_run_at)
ORDER BY s.trigger_id, s.slot_at LIMIT $2

-- name: old_signatures
SELECT trigger_id, signature FROM webhook_signatures WHERE expires_at < $1 ORDER BY expires_at LIMIT $2
