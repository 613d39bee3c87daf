"""SQL text of the PostgreSQL store, built once from the shared column lists."""

from __future__ import annotations

from flowmonkey.stores._rows import (
    COMMIT_COLUMNS,
    EXECUTION_COLUMNS,
    FIRE_COLUMNS,
    JOB_COLUMNS,
    RECORD_COLUMNS,
    TRIGGER_COLUMNS,
)

_TYPES = {
    "context": "jsonb",
    "metadata": "jsonb",
    "error": "jsonb",
    "cancellation": "jsonb",
    "input": "jsonb",
    "output": "jsonb",
    "revision": "integer",
    "step_count": "integer",
    "attempt": "integer",
    "sequence": "integer",
    "timeout_execution_s": "double precision",
    "timeout_wait_s": "double precision",
}
_TIMES = {
    "created_at",
    "updated_at",
    "completed_at",
    "wake_at",
    "waiting_since",
    "timeout_at",
    "idempotency_expires_at",
    "lease_expires_at",
    "started_at",
    "finished_at",
}


def sql_type(column: str) -> str:
    return "timestamptz" if column in _TIMES else _TYPES.get(column, "text")


def _placeholders(n: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + n))


EXECUTION_COLS = ", ".join(EXECUTION_COLUMNS)
SELECT_EXECUTION = f"SELECT {EXECUTION_COLS} FROM executions"
INSERT_EXECUTION = (
    f"INSERT INTO executions ({EXECUTION_COLS}) VALUES ({_placeholders(len(EXECUTION_COLUMNS))})"
)

# Many creates (without idempotency keys) in one statement.
INSERT_EXECUTIONS = (
    f"INSERT INTO executions ({EXECUTION_COLS}) SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{sql_type(c)}[]" for i, c in enumerate(EXECUTION_COLUMNS))
    + ")"
)

# One statement commits a whole batch: the UPDATE applies each row whose revision still
# matches, and the history INSERT keeps only the records of the rows it updated.
_U = ("id", "expected", *COMMIT_COLUMNS)
_U_TYPES = ("text", "integer", *(sql_type(c) for c in COMMIT_COLUMNS))
_R_START = len(_U) + 1
COMMIT_BATCH = f"""
WITH updated AS (
    UPDATE executions AS e SET {", ".join(f"{c} = u.{c}" for c in COMMIT_COLUMNS)}
    FROM unnest({", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_U_TYPES))}) AS u({", ".join(_U)})
    WHERE e.id = u.id AND e.revision = u.expected
    RETURNING e.id
), recorded AS (
    INSERT INTO step_records ({", ".join(RECORD_COLUMNS)})
    SELECT r.* FROM unnest({", ".join(f"${_R_START + i}::{sql_type(c)}[]" for i, c in enumerate(RECORD_COLUMNS))})
        AS r({", ".join(RECORD_COLUMNS)})
    WHERE r.execution_id IN (SELECT id FROM updated)
)
SELECT id FROM updated
"""

HISTORY = f"SELECT {', '.join(RECORD_COLUMNS)} FROM step_records WHERE execution_id = $1 ORDER BY sequence"

# Takes the key (new, or expired) and inserts the execution in one statement; no row
# back means a live key is held by another execution. Rows $7... are EXECUTION_COLUMNS.
INSERT_EXECUTION_WITH_KEY = f"""
WITH claimed AS (
    INSERT INTO idempotency_keys AS k (tenant_id, flow_id, key, execution_id, expires_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (tenant_id, flow_id, key) DO UPDATE
        SET execution_id = EXCLUDED.execution_id, expires_at = EXCLUDED.expires_at
        WHERE k.expires_at IS NOT NULL AND k.expires_at <= $6
    RETURNING execution_id
)
INSERT INTO executions ({EXECUTION_COLS})
SELECT {", ".join(f"${7 + i}::{sql_type(c)}" for i, c in enumerate(EXECUTION_COLUMNS))}
WHERE EXISTS (SELECT 1 FROM claimed)
RETURNING id
"""
HOLDER_OF_KEY = (
    f"{SELECT_EXECUTION} WHERE id = (SELECT execution_id FROM idempotency_keys "
    "WHERE tenant_id = $1 AND flow_id = $2 AND key = $3)"
)

ACTIVE = "('pending', 'running', 'waiting')"
CLAIM = f"""
UPDATE executions AS e SET lease_owner = $1, lease_expires_at = $2
FROM (
    SELECT id FROM executions
    WHERE (status IN ('pending', 'running') OR (status = 'waiting' AND wake_at <= $3))
      AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
    ORDER BY id LIMIT $4
    FOR UPDATE SKIP LOCKED
) AS c
WHERE e.id = c.id
RETURNING {", ".join(f"e.{c}" for c in EXECUTION_COLUMNS)}
"""
RENEW = """
UPDATE executions SET lease_expires_at = $3 WHERE id = ANY($2::text[]) AND lease_owner = $1 RETURNING id
"""
RELEASE = """
UPDATE executions SET lease_owner = NULL, lease_expires_at = NULL
WHERE id = ANY($2::text[]) AND lease_owner = $1
"""
# The earliest timeout, unleased wake, and lapse of a lease held by anyone but $1 (each
# minimum read from its partial index; the leased rows are the few in flight).
NEXT_WAKE = f"""
SELECT least(
    (SELECT min(wake_at) FROM executions
        WHERE status = 'waiting' AND wake_at IS NOT NULL AND lease_owner IS NULL),
    (SELECT min(timeout_at) FROM executions WHERE status IN {ACTIVE} AND timeout_at IS NOT NULL),
    (SELECT min(CASE WHEN status = 'waiting' THEN greatest(wake_at, lease_expires_at) ELSE lease_expires_at END)
        FROM executions
        WHERE lease_owner IS NOT NULL AND status IN {ACTIVE} AND lease_owner IS DISTINCT FROM $1::text
          AND (status <> 'waiting' OR wake_at IS NOT NULL))
)
"""
TIMED_OUT = f"{SELECT_EXECUTION} WHERE status IN {ACTIVE} AND timeout_at <= $1 ORDER BY timeout_at LIMIT $2"

TRIGGER_COLS = ", ".join(TRIGGER_COLUMNS)
SELECT_TRIGGER = f"SELECT {TRIGGER_COLS} FROM triggers"
SAVE_TRIGGER = (
    f"INSERT INTO triggers ({TRIGGER_COLS}) VALUES ({_placeholders(len(TRIGGER_COLUMNS))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in TRIGGER_COLUMNS[1:])}"
)
RECORD_FIRE = (
    f"INSERT INTO trigger_fires ({', '.join(FIRE_COLUMNS)}) VALUES ({_placeholders(len(FIRE_COLUMNS))})"
)
TRIGGER_HISTORY = (
    f"SELECT {', '.join(FIRE_COLUMNS)} FROM trigger_fires WHERE trigger_id = $1 ORDER BY seq DESC LIMIT $2"
)

JOB_COLS = ", ".join(JOB_COLUMNS)
SELECT_JOB = f"SELECT {JOB_COLS} FROM jobs"
ENQUEUE_JOB = (
    f"INSERT INTO jobs ({JOB_COLS}) VALUES ({_placeholders(len(JOB_COLUMNS))}) "
    "ON CONFLICT (execution_id, step_id, attempt) DO NOTHING RETURNING id"
)
CLAIM_JOBS = f"""
UPDATE jobs AS j SET status = 'running', owner = $1, fence = j.fence + 1, lease_expires_at = $2, updated_at = $3
FROM (
    SELECT id FROM jobs
    WHERE status = 'pending' OR (status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= $3))
    ORDER BY created_at, id LIMIT $4
    FOR UPDATE SKIP LOCKED
) AS c
WHERE j.id = c.id
RETURNING {", ".join(f"j.{c}" for c in JOB_COLUMNS)}
"""
HEARTBEAT_JOB = """
UPDATE jobs SET lease_expires_at = $3, checkpoint = coalesce($4::jsonb, checkpoint)
WHERE id = $1 AND fence = $2 AND status = 'running'
"""
FINISH_JOB = """
UPDATE jobs SET status = $3, result = $4, error = $5, updated_at = $6, lease_expires_at = NULL
WHERE id = $1 AND fence = $2 AND status = 'running'
"""
