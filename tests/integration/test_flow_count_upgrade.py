"""Migrations 11 and 12 (a flow's executions counted by triggers' counters) on PostgreSQL
databases of versions 10 and 11 holding executions, some waiting: after the upgrade the
counters hold every execution, counts are exact and stay so as the waiting move on, and
the waiting are still waiting and claimable when due. (SQLite's migrations 11 and 12 are
empty: it has counted from its own counters since migration 2.)"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from flowmonkey.change import Change
from flowmonkey.model import ExecutionStatus
from flowmonkey.stores import ExecutionQuery, open_store
from flowmonkey.stores._pg_schema import MIGRATIONS as PG_MIGRATIONS
from flowmonkey.stores._pg_schema import apply_schema as apply_pg_schema
from flowmonkey.stores._sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS
from flowmonkey.stores._sqlite_schema import apply_schema as apply_sqlite_schema

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


async def postgres_database_of_version(url: str, version: int) -> str:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        assert await apply_pg_schema(pool, PG_MIGRATIONS[:version]) == version
        for i, flow, status, finished, wake in ROWS:
            woken = None if wake is None else NOW + timedelta(seconds=wake)
            await pool.execute(INSERT, i, flow, status, NOW, woken, NOW if finished else None)
    finally:
        await pool.close()
    return url


async def _counters(url: str) -> dict[tuple[str, str], int]:
    conn = await asyncpg.connect(url)
    try:
        return {
            (f, st): n for f, st, n in await conn.fetch("SELECT flow_id, status, n FROM execution_counts")
        }
    finally:
        await conn.close()


@pytest.mark.postgres
@pytest.mark.parametrize("version", [10, 11])
async def test_a_postgres_database_of_an_older_version_upgrades_with_executions_waiting(
    empty_postgres_database: str, version: int
) -> None:
    url = await postgres_database_of_version(empty_postgres_database, version)
    async with open_store(url) as store:  # the upgrade
        expected = Counter((f, status) for _, f, status, _, _ in ROWS)
        assert await _counters(url) == dict(expected)
        for flow in ("a", "b"):
            counts = await store.count_executions(ExecutionQuery(flow_id=flow))
            assert {s.value: n for s, n in counts.items() if n} == {
                st: n for (f, st), n in expected.items() if f == flow
            }
        waiting = await store.get_execution("e5")
        assert waiting is not None and waiting.status is ExecutionStatus.WAITING
        claims = await store.claim(owner="w", now=NOW, lease=timedelta(seconds=30), limit=10)
        assert sorted(c.execution.id for c in claims) == ["e4", "e7"]  # the due wait and the pending
        due = next(c.execution for c in claims if c.execution.id == "e4")
        moved = {"status": ExecutionStatus.RUNNING, "revision": due.revision + 1, "updated_at": NOW}
        assert await store.commit(Change(due, moved))
        counts = await store.count_executions(ExecutionQuery(flow_id="a"))
        assert counts[ExecutionStatus.WAITING] == 1 and counts[ExecutionStatus.RUNNING] == 1


def test_sqlite_takes_migrations_11_and_12_as_steps_with_nothing_to_do(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "v10.db", isolation_level=None)
    try:
        apply_sqlite_schema(conn, SQLITE_MIGRATIONS[:10])
        apply_sqlite_schema(conn)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 12
    finally:
        conn.close()
