"""The SQLite store's operations, as plain synchronous functions.

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
from flowmonkey.stores import _query
from flowmonkey.stores import _sqlite_commit as _commit
from flowmonkey.stores._columns import EXECUTIONS, JOBS
from flowmonkey.stores._errors import classify_sqlite
from flowmonkey.stores._query import Params
from flowmonkey.stores._sql import queries
from flowmonkey.stores.base import Claim, ExecutionQuery

T = TypeVar("T")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
SQL = queries("sqlite", "?")
"""The named queries of ``sql/sqlite/queries.sql``."""
_EXPIRES_AT = EXECUTIONS.names.index("idempotency_expires_at")


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

    If a write fails on its own account (a constraint, a value too big, a bug), the
    transaction is rolled back and each write replayed in a transaction of its own, so a
    bad row only ever fails its own write. When the database itself fails (locked past
    ``busy_timeout``, I/O, disk full: a transient error) every write gets that error:
    replaying would only repeat the wait. A failure is returned (not raised) as that
    write's result.
    """
    try:
        return transaction(conn, run_all, batch)
    except Exception as exc:
        if isinstance(exc, sqlite3.Error) and classify_sqlite(exc):
            return [exc] * len(batch)
        failure = exc
    if len(batch) == 1:
        return [failure]
    return [_run_alone(conn, write) for write in batch]


def run_all(conn: sqlite3.Connection, batch: list[Write]) -> list[Any]:
    """Every write of ``batch`` in the open transaction; their results, in order."""
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


# -- executions -------------------------------------------------------------------------


def load(conn: sqlite3.Connection, execution_id: str) -> Execution | None:
    row = conn.execute(SQL["execution"], (execution_id,)).fetchone()
    return None if row is None else EXECUTIONS.from_row(row, dec)


def create(
    conn: sqlite3.Connection, row: Sequence[Any], scope: tuple[str, str, str] | None, now: int
) -> Execution | None:
    """Insert the execution; or return the live one already holding its idempotency key."""
    if scope is not None:
        held = conn.execute(SQL["idempotency_key"], scope).fetchone()
        if held is not None and (held[1] is None or held[1] > now):
            existing = load(conn, held[0])
            if existing is not None:
                return existing
        conn.execute(SQL["take_idempotency_key"], (*scope, row[0], row[_EXPIRES_AT]))
    conn.execute(SQL["insert_execution"], row)
    return None


def history(conn: sqlite3.Connection, execution_id: str) -> list[Any]:
    return conn.execute(SQL["history"], (execution_id,)).fetchall()


def page(conn: sqlite3.Connection, query: ExecutionQuery, limit: int, cursor: str | None) -> list[Execution]:
    params = Params("qmark")
    where = _query.execution_filter(query, params, enc, "LIKE")
    if cursor is not None:
        where.append(f"id < {params.add(cursor)}")
    sql = f"{SQL['executions']} {_where(where)} ORDER BY id DESC LIMIT {params.add(limit + 1)}"
    return [EXECUTIONS.from_row(row, dec) for row in conn.execute(sql, params.values)]


def count(conn: sqlite3.Connection, query: ExecutionQuery) -> list[Any]:
    if query == ExecutionQuery(statuses=query.statuses, flow_id=query.flow_id):
        return _count_from_counters(conn, query)
    params = Params("qmark")
    where = _query.execution_filter(query, params, enc, "LIKE")
    sql = f"SELECT status, COUNT(*) FROM executions {_where(where)} GROUP BY status"
    return conn.execute(sql, params.values).fetchall()


def _count_from_counters(conn: sqlite3.Connection, query: ExecutionQuery) -> list[Any]:
    """Counts from the per (flow, status) counters of migration 2: a few rows, no scan."""
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


def claim(conn: sqlite3.Connection, owner: str, now: int, until: int, limit: int) -> list[Claim]:
    window = {"now": now, "limit": limit}
    ready = conn.execute(SQL["claimable_ready"], window).fetchall()
    due = conn.execute(SQL["claimable_due"], window).fetchall()
    chosen = sorted([*ready, *due], key=lambda row: row[0])[:limit]
    conn.executemany(SQL["lease"], [(owner, until, row[0]) for row in chosen])
    claims = []
    for row in chosen:
        execution = EXECUTIONS.from_row(row, dec)
        lapsed = (execution.lease_owner, execution.lease_expires_at)  # as it was before
        execution.lease_owner, execution.lease_expires_at = owner, dec(until)
        claims.append(Claim(execution, *lapsed))
    return claims


def renew(conn: sqlite3.Connection, owner: str, ids: list[str], until: int) -> list[str]:
    return [i for i in ids if conn.execute(SQL["renew_lease"], (until, i, owner)).rowcount == 1]


def release(conn: sqlite3.Connection, owner: str, ids: list[str]) -> None:
    conn.executemany(SQL["release_lease"], [(i, owner) for i in ids])


def next_wake_at(conn: sqlite3.Connection, exclude_owner: str | None) -> int | None:
    """See ``Store.next_wake_at``: three index-served minimums."""
    wake = conn.execute(SQL["next_unleased_wake"]).fetchone()[0]
    timeout = conn.execute(SQL["next_timeout"]).fetchone()[0]
    lapse = conn.execute(SQL["next_lease_lapse"], (exclude_owner,)).fetchone()[0]
    times = [t for t in (wake, timeout, lapse) if t is not None]
    return min(times, default=None)


def timed_out(conn: sqlite3.Connection, now: int, limit: int) -> list[Execution]:
    return [EXECUTIONS.from_row(row, dec) for row in conn.execute(SQL["timed_out"], (now, limit))]


# -- jobs -------------------------------------------------------------------------------


def enqueue_job(conn: sqlite3.Connection, row: Sequence[Any]) -> Job | None:
    """Insert the job; or return the one already there for its step visit and attempt
    (a job of an earlier visit of the step makes way: that visit is over)."""
    fresh = JOBS.from_row(row, dec)
    existing = conn.execute(SQL["job_of_step"], (fresh.execution_id, fresh.step_id, fresh.attempt)).fetchone()
    if existing is not None:
        job = JOBS.from_row(existing, dec)
        if job.visit == fresh.visit:
            return job
        conn.execute(SQL["forget_job"], (job.id,))
    conn.execute(SQL["insert_job"], row)
    return None


def get_job(conn: sqlite3.Connection, job_id: str) -> Job | None:
    row = conn.execute(SQL["job"], (job_id,)).fetchone()
    return None if row is None else JOBS.from_row(row, dec)


def claim_jobs(conn: sqlite3.Connection, owner: str, now: int, until: int, limit: int) -> list[Job]:
    ids = [row[0] for row in conn.execute(SQL["claimable_jobs"], (now, limit))]
    conn.executemany(SQL["claim_job"], [(owner, until, now, i) for i in ids])
    return [job for i in ids if (job := get_job(conn, i)) is not None]


def heartbeat_job(
    conn: sqlite3.Connection, job_id: str, fence: int, until: int, checkpoint: str | None
) -> bool:
    return conn.execute(SQL["heartbeat_job"], (until, checkpoint, job_id, fence)).rowcount == 1


def finish_job(conn: sqlite3.Connection, job_id: str, fence: int, values: Sequence[Any]) -> bool:
    return conn.execute(SQL["finish_job"], (*values, job_id, fence)).rowcount == 1


# -- triggers and definitions: one statement each ---------------------------------------


def execute(conn: sqlite3.Connection, name: str, params: Sequence[Any]) -> int:
    """Run the named query; the number of rows it changed."""
    return conn.execute(SQL[name], params).rowcount


def fetch(conn: sqlite3.Connection, name: str, params: Sequence[Any]) -> list[Any]:
    """Run the named query; its rows."""
    return conn.execute(SQL[name], params).fetchall()


def claim_signature(conn: sqlite3.Connection, row: Sequence[Any], abandoned_before: int) -> Any:
    """Drop expired signatures, then claim this one; None if claimed, else the holder's row.
    One write transaction: nothing can come between the claim and the read of its holder."""
    trigger_id, signature, _, seen_at = row[:4]
    conn.execute(SQL["forget_signatures"], (seen_at,))
    if conn.execute(SQL["claim_signature"], (*row, abandoned_before)).rowcount == 1:
        return None
    return conn.execute(SQL["signature"], (trigger_id, signature)).fetchone()


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy what the WAL holds into the database file, without waiting for anyone."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
