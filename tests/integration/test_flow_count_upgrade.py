"""Migration 11 (a flow's executions counted from indexes) on a PostgreSQL database of
version 10 holding executions, some waiting: after the upgrade a flow's counts are exact,
read from the two indexes and no row, and the waiting are still waiting and claimable
when due. (SQLite's migration 11 is empty: it counts from its counters.)"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from flowmonkey.model import ExecutionStatus
from flowmonkey.stores import ExecutionQuery, open_store
from flowmonkey.stores._pg_schema import MIGRATIONS as PG_MIGRATIONS
from flowmonkey.stores._pg_schema import apply_schema as apply_pg_schema
from flowmonkey.stores._pg_sql import SQL
from flowmonkey.stores._sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS
from flowmonkey.stores._sqlite_schema import apply_schema as apply_sqlite_schema
from tests.conftest import _admin, _with_database

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# id, flow, status, finished (a completed_at), wake_at (seconds from NOW)
ROWS = [
    ("e1", "a", "completed", True, None),
    ("e2", "a", "completed", True, None),
    ("e3", "a", "failed", True, None),
    ("e4", "a", "waiting", False, -5.0),  # due
    ("e5", "a", "waiting", False, None),  # waits for a resume
    ("e6", "a", "held", False, None),
    ("e7", "b", "pending", False, None),
    ("e8", "b", "cancelled", True, None),
]
INSERT = (
    "INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, current_step_id, context, "
    "created_at, updated_at, revision, step_count, attempt, wake_at, completed_at, metadata) "
    "VALUES ($1, $2, '1.0.0', 'h', $3, 's0', '{}', $4, $4, 1, 0, 1, $5, $6, '{}')"
)


async def postgres_database_of_version_10(url: str) -> str:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        assert await apply_pg_schema(pool, PG_MIGRATIONS[:10]) == 10
        for i, flow, status, finished, wake in ROWS:
            woken = None if wake is None else NOW + timedelta(seconds=wake)
            await pool.execute(INSERT, i, flow, status, NOW, woken, NOW if finished else None)
    finally:
        await pool.close()
    return url


async def _count_plan(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET enable_seqscan = off")  # a table of 8 rows: ask what it can use
        await conn.execute("SET enable_bitmapscan = off")
        return "\n".join(row[0] for row in await conn.fetch(f"EXPLAIN {SQL['count_flow']}", "a"))
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_a_postgres_database_of_version_10_upgrades_with_executions_waiting(
    empty_count_database: str,
) -> None:
    url = await postgres_database_of_version_10(empty_count_database)
    async with open_store(url) as store:  # the upgrade
        plan = await _count_plan(url)
        assert "Index Only Scan using executions_flow_active" in plan, plan
        assert "Index Only Scan using executions_flow_completed" in plan, plan
        for flow in ("a", "b"):
            expected = Counter(status for _, f, status, _, _ in ROWS if f == flow)
            counts = await store.count_executions(ExecutionQuery(flow_id=flow))
            assert {s.value: n for s, n in counts.items() if n} == dict(expected)
        waiting = await store.get_execution("e5")
        assert waiting is not None and waiting.status is ExecutionStatus.WAITING
        claims = await store.claim(owner="w", now=NOW, lease=timedelta(seconds=30), limit=10)
        assert sorted(c.execution.id for c in claims) == ["e4", "e7"]  # the due wait and the pending


def test_sqlite_takes_migration_11_as_a_step_with_nothing_to_do(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "v10.db", isolation_level=None)
    try:
        apply_sqlite_schema(conn, SQLITE_MIGRATIONS[:10])
        apply_sqlite_schema(conn)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 11
    finally:
        conn.close()


@pytest.fixture
def empty_count_database(postgres_dsn: str) -> Iterator[str]:
    name = f"flowmonkey_n_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_dsn, f'CREATE DATABASE "{name}"'))
    yield _with_database(postgres_dsn, name)
    asyncio.run(_admin(postgres_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
