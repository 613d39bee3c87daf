"""Migration 10 (the flow health indexes) upgrades a database of the previous release in
place: its executions, waiting ones among them, read back and run on; health reads the
window through the new indexes."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from flowmonkey import Engine, Runtime
from flowmonkey.model import Execution, ExecutionStatus, WaitKind
from flowmonkey.stores import open_store
from flowmonkey.stores._columns import EXECUTIONS, as_is
from flowmonkey.stores._pg_schema import MIGRATIONS as POSTGRES_MIGRATIONS
from flowmonkey.stores._sqlite_ops import SQL, enc
from flowmonkey.stores._sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS
from flowmonkey.stores._sqlite_schema import apply_schema
from tests.integration.test_schema_upgrades import KINDS, recorded_versions, until_finished
from tests.integration.test_store_health import HOUR, T0
from tests.unit.helpers import echo, wait

PREVIOUS = 6
"""The schema the release before flow health left (0007-0009 belong to other branches)."""
INDEXES = {"executions_flow_created", "executions_flow_completed"}
FLOW = {
    "id": "orders",
    "version": "1.0.0",
    "initialStepId": "approve",
    "steps": {"approve": {"type": "wait", "transitions": {"onSuccess": "done"}}, "done": {"type": "echo"}},
}


def executions(flow_hash: str) -> list[Execution]:
    """Ten finished in the hour (1 s to 10 s), and two waiting for a resume."""
    common = {"flow_id": "orders", "flow_version": "1.0.0", "flow_hash": flow_hash, "context": {}}
    done = [
        Execution(
            id=f"01HEALTH{n:018d}",
            status=ExecutionStatus.COMPLETED,
            current_step_id="done",
            created_at=T0 + timedelta(minutes=n),
            updated_at=T0 + timedelta(minutes=n, seconds=n + 1),
            completed_at=T0 + timedelta(minutes=n, seconds=n + 1),
            **common,  # type: ignore[arg-type]
        )
        for n in range(10)
    ]
    waiting = [
        Execution(
            id=f"01HEALTHWAIT{n:014d}",
            status=ExecutionStatus.WAITING,
            current_step_id="approve",
            wait_kind=WaitKind.HANDLER,
            waiting_since=T0 + timedelta(minutes=30 + n),
            created_at=T0 + timedelta(minutes=30 + n),
            updated_at=T0 + timedelta(minutes=30 + n),
            **common,  # type: ignore[arg-type]
        )
        for n in range(2)
    ]
    return done + waiting


def build_sqlite(path: Path, rows: list[Execution]) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        apply_schema(conn, SQLITE_MIGRATIONS[:PREVIOUS])
        for execution in rows:
            conn.execute(SQL["insert_execution"], EXECUTIONS.values(execution, enc))
    finally:
        conn.close()
    return f"sqlite:///{path}"


async def build_postgres(url: str, rows: list[Execution]) -> str:
    import asyncpg

    from flowmonkey.stores._pg_schema import apply_schema as apply_pg
    from flowmonkey.stores._pg_sql import SQL as PG

    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        await apply_pg(pool, POSTGRES_MIGRATIONS[:PREVIOUS])
        for execution in rows:
            await pool.execute(PG["insert_execution"], *EXECUTIONS.values(execution, as_is))
    finally:
        await pool.close()
    return url


@pytest.fixture(params=KINDS)
def previous_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    from flowmonkey import Flow

    rows = executions(Flow.from_dict(FLOW).hash)
    if request.param == "sqlite":
        return build_sqlite(tmp_path / "previous.db", rows)
    return asyncio.run(build_postgres(request.getfixturevalue("empty_postgres_database"), rows))


async def indexes(url: str) -> set[str]:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        finally:
            conn.close()
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        return {
            row[0]
            for row in await pg.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'executions'")
        }
    finally:
        await pg.close()


async def test_the_previous_release_upgrades_and_health_reads_its_executions(previous_database: str) -> None:
    from flowmonkey import Flow

    url = previous_database
    sqlite = url.startswith("sqlite")
    assert await recorded_versions(url) == ([PREVIOUS] if sqlite else list(range(1, PREVIOUS + 1)))
    assert not INDEXES & await indexes(url)
    flow = Flow.from_dict(FLOW)
    rows = executions(flow.hash)
    async with open_store(url) as store:
        for expected in rows:
            assert await store.get_execution(expected.id) == expected
        health = await store.flow_health("orders", since=T0, until=T0 + HOUR)
        assert health.finished == {ExecutionStatus.COMPLETED: 10} and health.p95_ms == 10_000.0
        assert sum(health.started_per_minute) == 12 and health.started_per_minute[30:32] == (1, 1)
        await store.save_definition(flow)
        engine = Engine(store, [wait, echo], [flow])
        async with Runtime(engine, concurrency=2):
            for waiting in rows[10:]:
                await engine.resume(waiting.id, {"approved": True})
            await until_finished(store, tuple(e.id for e in rows[10:]))
    latest = SQLITE_MIGRATIONS[-1].version
    assert latest >= 8
    assert await recorded_versions(url) == ([latest] if sqlite else list(range(1, latest + 1)))
    assert await indexes(url) >= INDEXES


def test_sqlite_reads_the_health_window_through_the_indexes(tmp_path: Path) -> None:
    url = build_sqlite(tmp_path / "plan.db", [])
    asyncio.run(open_store(url).open())  # migrates
    conn = sqlite3.connect(tmp_path / "plan.db")
    try:
        window = {"flow": "orders", "since": 0, "until": 1, "limit": 10}
        for name in ("health_finished", "health_durations", "health_started", "health_steps"):
            plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {SQL[name]}", window))
            assert "USING" in plan and "INDEX executions_flow_c" in plan, (name, plan)
            assert "SCAN executions" not in plan.replace("SCAN executions USING", ""), (name, plan)
    finally:
        conn.close()
