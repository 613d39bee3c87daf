"""Migration 10 (the claim index) on a database of the previous version holding executions:
after the upgrade the claim takes the ready and the due, in order, through the new partial
index, and leaves the finished, the held and the waits not yet due alone."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from flowmonkey.model import ExecutionStatus
from flowmonkey.stores import open_store
from flowmonkey.stores._pg_schema import MIGRATIONS as PG_MIGRATIONS
from flowmonkey.stores._pg_schema import apply_schema as apply_pg_schema
from flowmonkey.stores._sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS
from flowmonkey.stores._sqlite_schema import apply_schema as apply_sqlite_schema

pytestmark = pytest.mark.asyncio

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# id, status, wake_at (seconds from NOW)
ROWS = [
    ("e1", "completed", None),
    ("e2", "pending", None),
    ("e3", "waiting", -5.0),  # due
    ("e4", "held", None),
    ("e5", "running", None),
    ("e6", "waiting", 3600.0),  # not yet due
    ("e7", "failed", None),
    ("e8", "waiting", None),  # waits for a resume
]
CLAIMABLE = ["e2", "e3", "e5"]


def _values(at: datetime, epoch: bool) -> list[tuple[object, ...]]:
    def stamp(moment: datetime | None) -> object:
        if moment is None or not epoch:
            return moment
        return int(moment.timestamp() * 1_000_000)

    return [
        (i, status, stamp(None if wake is None else at + timedelta(seconds=wake)), stamp(at))
        for i, status, wake in ROWS
    ]


INSERT = (
    "INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, current_step_id, context, "
    "created_at, updated_at, revision, step_count, attempt, wake_at, metadata) "
    "VALUES ({i}, 'f', '1.0.0', 'h', {status}, 's0', '{{}}', {at}, {at}, 1, 0, 1, {wake}, '{{}}')"
)


def sqlite_database_of_version_6(path: Path) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        apply_sqlite_schema(conn, SQLITE_MIGRATIONS[:6])
        sql = INSERT.format(i="?", status="?", at="?", wake="?")
        for i, status, wake, at in _values(NOW, epoch=True):
            conn.execute(sql, (i, status, at, at, wake))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 6
    finally:
        conn.close()
    return f"sqlite:///{path}"


async def postgres_database_of_version_6(url: str) -> str:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        assert await apply_pg_schema(pool, PG_MIGRATIONS[:6]) == 6
        sql = INSERT.format(i="$1", status="$2", at="$4", wake="$3")
        for row in _values(NOW, epoch=False):
            await pool.execute(sql, *row)
    finally:
        await pool.close()
    return url


async def _indexed(url: str) -> bool:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            plan = conn.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM executions INDEXED BY executions_ready "
                "WHERE status IN ('pending', 'running') ORDER BY id LIMIT 5"
            ).fetchall()
            return any("executions_ready" in str(row) for row in plan)
        finally:
            conn.close()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET enable_seqscan = off")  # a table of 8 rows: ask what it can use
        plan = await conn.fetch(
            "EXPLAIN SELECT id FROM executions WHERE status IN ('pending', 'running') ORDER BY id LIMIT 5"
        )
        return any("executions_ready" in row[0] for row in plan)
    finally:
        await conn.close()


async def test_a_sqlite_file_of_version_6_upgrades(tmp_path: Path) -> None:
    await check_upgraded(sqlite_database_of_version_6(tmp_path / "v6.db"))


@pytest.mark.postgres
async def test_a_postgres_database_of_version_6_upgrades(empty_postgres_database: str) -> None:
    await check_upgraded(await postgres_database_of_version_6(empty_postgres_database))


async def check_upgraded(url: str) -> None:
    async with open_store(url) as store:  # the upgrade
        assert await _indexed(url)
        claims = await store.claim(owner="w1", now=NOW, lease=timedelta(seconds=30), limit=10)
        assert sorted(c.execution.id for c in claims) == CLAIMABLE
        assert all(c.taken_from is None for c in claims)
        again = await store.claim(owner="w2", now=NOW, lease=timedelta(seconds=30), limit=10)
        assert again == []  # leased by w1
        first_two = await store.claim(
            owner="w2", now=NOW + timedelta(minutes=1), lease=timedelta(seconds=30), limit=2
        )
        assert [c.execution.id for c in first_two] == ["e2", "e3"]  # ready and due alike, by id
        assert {c.taken_from for c in first_two} == {"w1"}  # w1's leases lapsed: a takeover
        for i, status, _ in ROWS:
            stored = await store.get_execution(i)
            assert stored is not None and stored.status is ExecutionStatus(status)
            assert (stored.lease_owner is not None) == (i in CLAIMABLE)
