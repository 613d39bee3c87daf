"""SQL of the PostgreSQL store: the named queries of ``sql/postgres/queries.sql``, and the
statements built here from the column table because they spell out every column more than
as a list (typed arrays, casts, assignments): written by hand, they would be a second
definition of the columns to keep in step.
"""

from __future__ import annotations

from collections.abc import Sequence

from flowmonkey.stores._changes import COMMIT_COLUMNS, lease_given_back
from flowmonkey.stores._columns import EXECUTIONS, STEP_RECORDS, TRIGGERS
from flowmonkey.stores._sql import queries

SQL = queries("postgres", "$")
"""The named queries of ``sql/postgres/queries.sql``."""


def _arrays(types: Sequence[str], start: int = 1) -> str:
    return ", ".join(f"${start + i}::{t}[]" for i, t in enumerate(types))


_EXECUTION_TYPES = [c.postgres_type for c in EXECUTIONS.columns]
_RECORD_TYPES = [c.postgres_type for c in STEP_RECORDS.columns]

# Many creates (without idempotency keys) in one statement.
INSERT_EXECUTIONS = (
    f"INSERT INTO executions ({EXECUTIONS.column_list}) SELECT * FROM unnest({_arrays(_EXECUTION_TYPES)})"
)

LOCK_ROWS = "SELECT 1 FROM executions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"
"""Locks executions in id order, the order every statement that locks several takes."""

# One statement commits a whole batch: the UPDATE applies each row whose revision still
# matches, and the history INSERT keeps only the records of the rows it updated. The rows
# are locked first, in id order, as renewals and releases lock theirs: the UPDATE alone
# locks in the order of its plan, which on a small table is a hash join over a sequential
# scan (the table's order), and deadlocked with renewals. Joined to the UPDATE, the
# materialized ``locked`` is read in id order whatever the plan, and only ever ahead. A
# commit that ends its execution also gives the lease back.
_U = ("id", "expected", *COMMIT_COLUMNS)
_U_TYPES = ("text", "integer", *(EXECUTIONS.column(c).postgres_type for c in COMMIT_COLUMNS))
COMMIT_BATCH = f"""
WITH locked AS MATERIALIZED (
    SELECT id FROM executions WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE
), updated AS (
    UPDATE executions AS e SET {", ".join(f"{c} = u.{c}" for c in COMMIT_COLUMNS)}{lease_given_back("u.status", "e.")}
    FROM unnest({_arrays(_U_TYPES)}) AS u({", ".join(_U)}) JOIN locked AS l ON l.id = u.id
    WHERE e.id = u.id AND e.revision = u.expected
    RETURNING e.id
), recorded AS (
    INSERT INTO step_records ({STEP_RECORDS.column_list})
    SELECT r.* FROM unnest({_arrays(_RECORD_TYPES, len(_U) + 1)}) AS r({STEP_RECORDS.column_list})
    WHERE r.execution_id IN (SELECT id FROM updated)
)
SELECT id FROM updated
"""

# Takes the key (new, or expired) and inserts the execution in one statement; no row
# back means a live key is held by another execution. $7... are the execution's columns.
INSERT_EXECUTION_WITH_KEY = f"""
WITH claimed AS (
    INSERT INTO idempotency_keys AS k (tenant_id, flow_id, key, execution_id, expires_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (tenant_id, flow_id, key) DO UPDATE
        SET execution_id = EXCLUDED.execution_id, expires_at = EXCLUDED.expires_at
        WHERE k.expires_at IS NOT NULL AND k.expires_at <= $6
    RETURNING execution_id
)
INSERT INTO executions ({EXECUTIONS.column_list})
SELECT {", ".join(f"${7 + i}::{t}" for i, t in enumerate(_EXECUTION_TYPES))}
WHERE EXISTS (SELECT 1 FROM claimed)
RETURNING id
"""

SAVE_TRIGGER = f"{SQL['insert_trigger']} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = EXCLUDED.{c}" for c in TRIGGERS.names if c != "id"
)
