"""Migration 8 (fan-in) on a database of the previous release (schema 6), on real SQLite
files and PostgreSQL: a sub-flow parent waits for a child that release created (no join
row); after the upgrade the child's end still wakes its parent, which completes, and a
map then runs on the upgraded database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionStatus, Flow, Runtime, open_store
from flowmonkey.model import Execution, WaitKind
from flowmonkey.stores import Store
from flowmonkey.stores._columns import EXECUTIONS
from flowmonkey.stores._pg_schema import MIGRATIONS as POSTGRES
from flowmonkey.stores._pg_schema import apply_schema as apply_postgres
from flowmonkey.stores._sqlite_ops import enc
from flowmonkey.stores._sqlite_schema import MIGRATIONS as SQLITE
from flowmonkey.stores._sqlite_schema import apply_schema as apply_sqlite
from tests.unit.helpers import echo

PREVIOUS = 6  # the schema of the release before fan-in
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CHILD = Flow.from_dict(
    {"id": "child", "initialStepId": "a", "steps": {"a": {"type": "echo", "outputKey": "out"}}}
)
PARENT = Flow.from_dict(
    {
        "id": "parent",
        "initialStepId": "call",
        "steps": {"call": {"type": "subflow", "config": {"flowId": "child"}, "outputKey": "child"}},
    }
)
MAPPER = Flow.from_dict(
    {
        "id": "mapper",
        "initialStepId": "m",
        "steps": {
            "m": {"type": "map", "flow": "child", "input": {"type": "key", "key": "xs"}, "outputKey": "ys"}
        },
    }
)


def _waiting_parent_and_its_child() -> list[Execution]:
    """What the previous release left: a parent waiting at a subflow step, its child pending."""
    parent = Execution(
        id="01PARENT",
        flow_id="parent",
        flow_version="1.0.0",
        flow_hash=PARENT.hash,
        status=ExecutionStatus.WAITING,
        current_step_id="call",
        context={"n": 1},
        created_at=T0,
        updated_at=T0,
        revision=1,
        step_count=1,
        wait_kind=WaitKind.HANDLER,
        waiting_since=T0,
        wait_reason="child 01CHILD (child)",
    )
    child = Execution(
        id="01CHILD",
        flow_id="child",
        flow_version="1.0.0",
        flow_hash=CHILD.hash,
        status=ExecutionStatus.PENDING,
        current_step_id="a",
        context={"n": 1},
        created_at=T0,
        updated_at=T0,
        parent_execution_id="01PARENT",
        parent_step_id="call",
        idempotency_key="subflow:01PARENT:call:1:1",
    )
    return [parent, child]


def _insert_sql(mark: str) -> str:
    marks = ", ".join(mark.format(i + 1) for i in range(len(EXECUTIONS.names)))
    return f"INSERT INTO executions ({EXECUTIONS.column_list}) VALUES ({marks})"


def build_sqlite(path: Path) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        apply_sqlite(conn, SQLITE[:PREVIOUS])
        for execution in _waiting_parent_and_its_child():
            conn.execute(_insert_sql("?"), EXECUTIONS.values(execution, enc))
    finally:
        conn.close()
    return f"sqlite:///{path}"


async def build_postgres(url: str) -> str:
    import asyncpg

    from flowmonkey.stores._columns import as_is

    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        await apply_postgres(pool, POSTGRES[:PREVIOUS])
        for execution in _waiting_parent_and_its_child():
            await pool.execute(_insert_sql("${}"), *EXECUTIONS.values(execution, as_is))
    finally:
        await pool.close()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def previous_release(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return build_sqlite(tmp_path / "previous.db")
    return asyncio.run(build_postgres(request.getfixturevalue("empty_postgres_database")))


async def _finished(store: Store, execution_id: str, timeout: float = 20.0) -> Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = await store.get_execution(execution_id)
        if execution is not None and execution.is_terminal:
            return execution
        await asyncio.sleep(0.02)
    raise AssertionError(f"{execution_id} did not finish in {timeout}s")


async def test_a_child_of_the_previous_release_wakes_its_parent_after_the_upgrade(
    previous_release: str,
) -> None:
    async with open_store(previous_release) as store:
        assert await store.fans_of("01PARENT") == []  # the new tables exist, empty
        engine = Engine(store, [echo], [CHILD, PARENT, MAPPER])
        async with Runtime(engine, concurrency=4):
            parent = await _finished(store, "01PARENT")
            mapped, _ = await engine.create("mapper", {"xs": [1, 2, 3]})
            mapper = await _finished(store, mapped.id)
    assert parent.status is ExecutionStatus.COMPLETED and parent.context["child"]["out"] == {"n": 1}
    assert mapper.status is ExecutionStatus.COMPLETED
    assert [y["item"] for y in mapper.context["ys"]] == [1, 2, 3]
