"""What one step costs outside the store, and what the store's storage can do at most.

``row_us``: the time to turn one execution and its step record into the rows a commit
writes (the column encoding of :mod:`flowmonkey.stores._columns`). ``storage_limit``: how
many rows per second the storage commits when nothing else is done, in batches of 50 as
group commit makes them: SQLite ``executemany`` + COMMIT on a file (synchronous=NORMAL,
WAL, as the store opens it), or asyncpg ``INSERT ... SELECT FROM unnest(...)`` on
PostgreSQL. A bench's steps/s divided by it is how close the engine comes to the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from flowmonkey.model import Execution, StepRecord, StepStatus
from flowmonkey.stores._columns import EXECUTIONS, STEP_RECORDS, as_is

BATCH = 50
MEASURE_S = 0.5


def row_us(execution: Execution, record: StepRecord, rounds: int = 200) -> float:
    """Microseconds to encode one step's rows (the execution and its record)."""
    started = time.perf_counter()
    for _ in range(rounds):
        EXECUTIONS.values(execution, as_is)
        STEP_RECORDS.values(record, as_is)
    return (time.perf_counter() - started) / rounds * 1e6


def _rows(start: int) -> list[tuple[Any, ...]]:
    return [(f"e{start + i}", start + i, "completed", "{}") for i in range(BATCH)]


def sqlite_limit() -> float:
    """Row-commits per second of SQLite ``executemany`` in batches of 50 on a temporary file."""
    with tempfile.TemporaryDirectory() as directory:
        conn = sqlite3.connect(f"{directory}/limit.db", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("CREATE TABLE r (id TEXT PRIMARY KEY, n INTEGER, status TEXT, body TEXT)")
            rows, started = 0, time.perf_counter()
            while time.perf_counter() - started < MEASURE_S:
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO r VALUES (?, ?, ?, ?)", _rows(rows))
                conn.execute("COMMIT")
                rows += BATCH
            return rows / (time.perf_counter() - started)
        finally:
            conn.close()


async def postgres_limit(url: str, writers: int = 4) -> float:
    """Row-commits per second of asyncpg ``unnest`` inserts in batches of 50, from
    ``writers`` connections at once as the store's group commit keeps several batches in
    flight (into scratch tables, WAL-logged as the store's are, dropped after)."""
    import asyncpg

    async def write(conn: asyncpg.Connection, table: str, deadline: float) -> int:
        statement = (
            f"INSERT INTO {table} SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::jsonb[])"
        )
        rows = 0
        while time.perf_counter() < deadline:
            await conn.execute(statement, *([list(c) for c in zip(*_rows(rows), strict=True)]))
            rows += BATCH
        return rows

    conns = [await asyncpg.connect(url) for _ in range(writers)]
    tables = [f"fm_limit_{id(conn)}" for conn in conns]
    try:
        for conn, table in zip(conns, tables, strict=True):
            await conn.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, n int, status text, body jsonb)")
        started = time.perf_counter()
        done = await asyncio.gather(
            *(write(c, t, started + MEASURE_S) for c, t in zip(conns, tables, strict=True))
        )
        return sum(done) / (time.perf_counter() - started)
    finally:
        for conn, table in zip(conns, tables, strict=True):
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
            await conn.close()


async def storage_limit(store_url: str) -> float:
    """:func:`sqlite_limit` or :func:`postgres_limit`, whichever ``store_url`` names."""
    if store_url.startswith(("postgres://", "postgresql://")):
        return await postgres_limit(store_url)
    return await asyncio.to_thread(sqlite_limit)


def sample_record(execution: Execution) -> StepRecord:
    """A step record like the ones a step of ``execution`` writes."""
    now = datetime.now(UTC)
    return StepRecord(
        execution_id=execution.id,
        sequence=execution.revision,
        step_id=execution.current_step_id,
        attempt=1,
        outcome=StepStatus.COMPLETED,
        started_at=now,
        finished_at=now,
        output=execution.context.get("summary"),
    )
