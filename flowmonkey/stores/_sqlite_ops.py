"""The SQLite store's schema and operations, as plain synchronous functions.

Each function runs whole on the connection's own thread (see :mod:`flowmonkey.stores.sqlite`),
so one store operation costs one hop between the event loop and that thread, however many
statements it runs. Writes open with ``BEGIN IMMEDIATE``, taking SQLite's write lock up
front: a read-then-write inside the transaction can then never be overtaken by another
process, and ``busy_timeout`` makes competing writers queue instead of failing.
Times are stored as integer microseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flowmonkey.model import Execution, Job
from flowmonkey.stores import _query, _rows
from flowmonkey.stores import _sqlite_commit as _commit
from flowmonkey.stores._query import Params
from flowmonkey.stores._rows import EXECUTION_COLUMNS
from flowmonkey.stores.base import ExecutionQuery

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
ACTIVE = "('pending', 'running', 'waiting')"

SCHEMA = f"""
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
    WHERE status IN {ACTIVE} AND timeout_at IS NOT NULL;
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
"""

_COLS = ", ".join(EXECUTION_COLUMNS)
_INSERT_EXECUTION = f"INSERT INTO executions ({_COLS}) VALUES ({', '.join('?' * len(EXECUTION_COLUMNS))})"
_SELECT_EXECUTION = f"SELECT {_COLS} FROM executions"
_JOB_COLS = ", ".join(_rows.JOB_COLUMNS)


def enc(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def dec(value: Any) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(conn, *args)`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT``."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


Write = tuple[Callable[..., Any], tuple[Any, ...]]
"""One queued write: a function of this module and its arguments after the connection."""


def write_batch(conn: sqlite3.Connection, batch: list[Write]) -> list[Any]:
    """Run every write in one transaction; each write's result, in order.

    If a write fails on its own account (a constraint, a bug), the transaction is rolled
    back and each write replayed in a transaction of its own, so one failure never fails
    its neighbours. When the database itself fails (locked past ``busy_timeout``, I/O,
    disk full) every write gets that error: replaying would only repeat the wait. A
    failure is returned (not raised) as that write's result.
    """
    try:
        return transaction(conn, _run_all, batch)
    except sqlite3.IntegrityError as exc:
        failure: Exception = exc
    except sqlite3.Error as exc:
        return [exc] * len(batch)
    except Exception as exc:
        failure = exc
    if len(batch) == 1:
        return [failure]
    return [_run_alone(conn, write) for write in batch]


def _run_all(conn: sqlite3.Connection, batch: list[Write]) -> list[Any]:
    # Step commits run last and together (see _sqlite_commit). Moving them after the other
    # writes is safe: a commit follows its execution's create, which its caller awaited,
    # and no other write touches the columns a commit writes.
    results: list[Any] = [None] * len(batch)
    commits: list[int] = []
    for i, (fn, args) in enumerate(batch):
        if fn is _commit.commit:
            commits.append(i)
        else:
            results[i] = fn(conn, *args)
    if commits:
        outcomes = _commit.commit_many(conn, [batch[i][1] for i in commits])
        for i, outcome in zip(commits, outcomes, strict=True):
            results[i] = outcome
    return results


def _run_alone(conn: sqlite3.Connection, write: Write) -> Any:
    fn, args = write
    try:
        return transaction(conn, fn, *args)
    except Exception as exc:
        return exc


# Version 2: per (flow, status) counts kept by triggers, so counting a large store
# reads a few rows instead of scanning an index. A status changes a few times per
# execution, and a commit names the status column only when it changed.
_COUNTS = """
CREATE TABLE IF NOT EXISTS execution_counts (
    flow_id TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (flow_id, status)
) WITHOUT ROWID;
DELETE FROM execution_counts;
INSERT INTO execution_counts SELECT flow_id, status, COUNT(*) FROM executions GROUP BY flow_id, status;
CREATE TRIGGER IF NOT EXISTS executions_counted AFTER INSERT ON executions BEGIN
    INSERT INTO execution_counts VALUES (NEW.flow_id, NEW.status, 1)
        ON CONFLICT (flow_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS executions_recounted AFTER UPDATE OF status ON executions
WHEN OLD.status <> NEW.status BEGIN
    UPDATE execution_counts SET n = n - 1 WHERE flow_id = OLD.flow_id AND status = OLD.status;
    INSERT INTO execution_counts VALUES (NEW.flow_id, NEW.status, 1)
        ON CONFLICT (flow_id, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS executions_uncounted AFTER DELETE ON executions BEGIN
    UPDATE execution_counts SET n = n - 1 WHERE flow_id = OLD.flow_id AND status = OLD.status;
END;
"""
# Version 3: the leases of active executions by expiry, so that ``next_wake_at`` finds
# when a crashed runtime's claims lapse by reading only the (few) leased rows.
_LEASES = f"""
CREATE INDEX IF NOT EXISTS executions_leased ON executions (lease_expires_at)
    WHERE lease_owner IS NOT NULL AND status IN {ACTIVE};
"""
MIGRATIONS = ((1, SCHEMA), (2, _COUNTS), (3, _LEASES))
SCHEMA_VERSION = MIGRATIONS[-1][0]


def apply_schema(conn: sqlite3.Connection) -> None:
    """Apply the migrations this file lacks, under the write lock (so two processes
    opening a new file at once apply each migration once)."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        for number, script in MIGRATIONS:
            if number > version:
                for statement in _statements(script):
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return [s for s in statements if s]


# -- executions -------------------------------------------------------------------------


def load(conn: sqlite3.Connection, execution_id: str) -> Execution | None:
    row = conn.execute(f"{_SELECT_EXECUTION} WHERE id = ?", (execution_id,)).fetchone()
    return None if row is None else _rows.execution_from_row(row, dec)


def create(
    conn: sqlite3.Connection, row: Sequence[Any], scope: tuple[str, str, str] | None, now: int
) -> Execution | None:
    """Insert the execution; or return the live one already holding its idempotency key."""
    if scope is not None:
        held = conn.execute(
            "SELECT execution_id, expires_at FROM idempotency_keys "
            "WHERE tenant_id = ? AND flow_id = ? AND key = ?",
            scope,
        ).fetchone()
        if held is not None and (held[1] is None or held[1] > now):
            existing = load(conn, held[0])
            if existing is not None:
                return existing
        expires = row[EXECUTION_COLUMNS.index("idempotency_expires_at")]
        conn.execute(
            "INSERT OR REPLACE INTO idempotency_keys VALUES (?, ?, ?, ?, ?)", (*scope, row[0], expires)
        )
    conn.execute(_INSERT_EXECUTION, row)
    return None


def history(conn: sqlite3.Connection, execution_id: str) -> list[Any]:
    return conn.execute(
        f"SELECT {', '.join(_rows.RECORD_COLUMNS)} FROM step_records WHERE execution_id = ? ORDER BY sequence",
        (execution_id,),
    ).fetchall()


def page(conn: sqlite3.Connection, query: ExecutionQuery, limit: int, cursor: str | None) -> list[Execution]:
    params = Params("qmark")
    where = _query.execution_filter(query, params, enc, "LIKE")
    if cursor is not None:
        where.append(f"id < {params.add(cursor)}")
    sql = f"{_SELECT_EXECUTION} {_where(where)} ORDER BY id DESC LIMIT {params.add(limit + 1)}"
    return [_rows.execution_from_row(row, dec) for row in conn.execute(sql, params.values)]


def count(conn: sqlite3.Connection, query: ExecutionQuery) -> list[Any]:
    if query == ExecutionQuery(statuses=query.statuses, flow_id=query.flow_id):
        return _count_from_counters(conn, query)
    params = Params("qmark")
    where = _query.execution_filter(query, params, enc, "LIKE")
    sql = f"SELECT status, COUNT(*) FROM executions {_where(where)} GROUP BY status"
    return conn.execute(sql, params.values).fetchall()


def _count_from_counters(conn: sqlite3.Connection, query: ExecutionQuery) -> list[Any]:
    params = Params("qmark")
    where = []
    if query.flow_id is not None:
        where.append(f"flow_id = {params.add(query.flow_id)}")
    if query.statuses:
        where.append(f"status IN ({', '.join(params.add(s.value) for s in query.statuses)})")
    sql = f"SELECT status, SUM(n) FROM execution_counts {_where(where)} GROUP BY status"
    return conn.execute(sql, params.values).fetchall()


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


# -- runtime ----------------------------------------------------------------------------

_FREE = "(lease_expires_at IS NULL OR lease_expires_at <= :now)"


def claim(conn: sqlite3.Connection, owner: str, now: int, until: int, limit: int) -> list[Execution]:
    # Two index-friendly scans (ready by status, due waits by wake time) instead of one OR;
    # INDEXED BY because without ANALYZE statistics SQLite prefers the status index.
    ready = conn.execute(
        f"{_SELECT_EXECUTION} WHERE status IN ('pending', 'running') AND {_FREE} ORDER BY id LIMIT :limit",
        {"now": now, "limit": limit},
    ).fetchall()
    due = conn.execute(
        f"{_SELECT_EXECUTION} INDEXED BY executions_wake WHERE status = 'waiting' AND wake_at <= :now AND {_FREE} "
        "ORDER BY wake_at LIMIT :limit",
        {"now": now, "limit": limit},
    ).fetchall()
    chosen = sorted([*ready, *due], key=lambda row: row[0])[:limit]
    conn.executemany(
        "UPDATE executions SET lease_owner = ?, lease_expires_at = ? WHERE id = ?",
        [(owner, until, row[0]) for row in chosen],
    )
    claimed = [_rows.execution_from_row(row, dec) for row in chosen]
    for execution in claimed:
        execution.lease_owner, execution.lease_expires_at = owner, dec(until)
    return claimed


def renew(conn: sqlite3.Connection, owner: str, ids: list[str], until: int) -> list[str]:
    sql = "UPDATE executions SET lease_expires_at = ? WHERE id = ? AND lease_owner = ?"
    return [i for i in ids if conn.execute(sql, (until, i, owner)).rowcount == 1]


def release(conn: sqlite3.Connection, owner: str, ids: list[str]) -> None:
    conn.executemany(
        "UPDATE executions SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?",
        [(i, owner) for i in ids],
    )


def next_wake_at(conn: sqlite3.Connection, exclude_owner: str | None) -> int | None:
    """See ``Store.next_wake_at``: three index-served minimums."""
    wake = conn.execute(
        "SELECT MIN(wake_at) FROM executions INDEXED BY executions_wake "
        "WHERE status = 'waiting' AND wake_at IS NOT NULL AND lease_owner IS NULL"
    ).fetchone()[0]
    timeout = conn.execute(
        "SELECT MIN(timeout_at) FROM executions INDEXED BY executions_timeout "
        f"WHERE status IN {ACTIVE} AND timeout_at IS NOT NULL"
    ).fetchone()[0]
    lapse = conn.execute(
        "SELECT MIN(CASE WHEN status = 'waiting' THEN MAX(wake_at, lease_expires_at) ELSE lease_expires_at END) "
        "FROM executions INDEXED BY executions_leased "
        f"WHERE lease_owner IS NOT NULL AND status IN {ACTIVE} AND lease_owner IS NOT ? "
        "AND (status <> 'waiting' OR wake_at IS NOT NULL)",
        (exclude_owner,),
    ).fetchone()[0]
    times = [t for t in (wake, timeout, lapse) if t is not None]
    return min(times, default=None)


def timed_out(conn: sqlite3.Connection, now: int, limit: int) -> list[Execution]:
    rows = conn.execute(
        f"{_SELECT_EXECUTION} INDEXED BY executions_timeout "
        f"WHERE status IN {ACTIVE} AND timeout_at <= ? ORDER BY timeout_at LIMIT ?",
        (now, limit),
    )
    return [_rows.execution_from_row(row, dec) for row in rows]


# -- jobs -------------------------------------------------------------------------------


def enqueue_job(conn: sqlite3.Connection, row: Sequence[Any]) -> Job | None:
    """Insert the job; or return the one already there for its (execution, step, attempt)."""
    existing = conn.execute(
        f"SELECT {_JOB_COLS} FROM jobs WHERE execution_id = ? AND step_id = ? AND attempt = ?", row[1:4]
    ).fetchone()
    if existing is not None:
        return _rows.job_from_row(existing, dec)
    conn.execute(f"INSERT INTO jobs ({_JOB_COLS}) VALUES ({', '.join('?' * len(row))})", row)
    return None


def get_job(conn: sqlite3.Connection, job_id: str) -> Job | None:
    row = conn.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else _rows.job_from_row(row, dec)


def claim_jobs(conn: sqlite3.Connection, owner: str, now: int, until: int, limit: int) -> list[Job]:
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM jobs WHERE status = 'pending' OR (status = 'running' AND "
            "(lease_expires_at IS NULL OR lease_expires_at <= ?)) ORDER BY created_at, id LIMIT ?",
            (now, limit),
        )
    ]
    conn.executemany(
        "UPDATE jobs SET status = 'running', owner = ?, fence = fence + 1, lease_expires_at = ?, "
        "updated_at = ? WHERE id = ?",
        [(owner, until, now, i) for i in ids],
    )
    return [job for i in ids if (job := get_job(conn, i)) is not None]


def heartbeat_job(
    conn: sqlite3.Connection, job_id: str, fence: int, until: int, checkpoint: str | None
) -> bool:
    cursor = conn.execute(
        "UPDATE jobs SET lease_expires_at = ?, checkpoint = COALESCE(?, checkpoint) "
        "WHERE id = ? AND fence = ? AND status = 'running'",
        (until, checkpoint, job_id, fence),
    )
    return cursor.rowcount == 1


def finish_job(conn: sqlite3.Connection, job_id: str, fence: int, values: Sequence[Any]) -> bool:
    cursor = conn.execute(
        "UPDATE jobs SET status = ?, result = ?, error = ?, updated_at = ?, lease_expires_at = NULL "
        "WHERE id = ? AND fence = ? AND status = 'running'",
        (*values, job_id, fence),
    )
    return cursor.rowcount == 1
