"""``open_store(url, readonly=True)``: the driver refuses every write, nothing is created.

The writes here go straight to the store, past every check a caller could make: what
refuses them is SQLite (``mode=ro``) or PostgreSQL (``default_transaction_read_only``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from flowmonkey import Change, Engine, ExecutionStatus, Flow, StoreError, open_store
from flowmonkey.model import TriggerDefinition, TriggerType

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
WAIT = Flow.from_dict(
    {
        "id": "hold",
        "version": "1.0.0",
        "initialStepId": "approve",
        "steps": {"approve": {"type": "approval", "config": {"message": "ok?"}}},
    }
)


async def _seed(url: str) -> str:
    """A waiting execution, written read-write; returns its id."""
    async with open_store(url) as store:
        engine = Engine(store, flows=[WAIT])
        execution, _ = await engine.create("hold", {"n": 1})
        await engine.run(execution.id)
        return execution.id


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fm.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest_asyncio.fixture
async def seeded(url: str) -> AsyncIterator[tuple[str, str]]:
    yield url, await _seed(url)


async def test_every_kind_of_write_is_refused_by_the_driver(seeded: tuple[str, str]) -> None:
    url, waiting_id = seeded
    async with open_store(url, readonly=True) as store:
        execution = await store.get_execution(waiting_id)
        assert execution is not None and execution.status is ExecutionStatus.WAITING
        cancelled = Change(
            execution, {"status": ExecutionStatus.CANCELLED, "revision": execution.revision + 1}
        )
        trigger = TriggerDefinition(
            id="t", type=TriggerType.SCHEDULE, flow_id="hold", created_at=NOW, updated_at=NOW
        )
        writes = [
            store.commit(cancelled),
            store.create_execution(execution.copy(), now=NOW),
            store.save_trigger(trigger),
            store.save_definition(WAIT),
        ]
        for write in writes:
            with pytest.raises(StoreError, match=r"read-only|readonly"):
                await write
        assert (await store.get_execution(waiting_id)) == execution
    async with open_store(url) as store:
        after = await store.get_execution(waiting_id)
        assert after is not None and after.status is ExecutionStatus.WAITING
        assert await store.list_triggers() == []


async def test_an_engine_on_a_readonly_store_cannot_cancel_or_start(seeded: tuple[str, str]) -> None:
    url, waiting_id = seeded
    async with open_store(url, readonly=True) as store:
        engine = Engine(store, flows=[WAIT])
        with pytest.raises(StoreError, match=r"read-only|readonly"):
            await engine.create("hold", {"n": 2})
        try:
            result = await engine.cancel(waiting_id, reason="bypassing the console's checks")
        except StoreError as exc:
            assert "read-only" in str(exc) or "readonly" in str(exc)
        else:
            assert not result.cancelled
        assert len((await store.list_executions()).items) == 1


async def test_a_missing_sqlite_file_is_an_error_and_nothing_is_created(tmp_path: Path) -> None:
    path = tmp_path / "typo" / "fm.db"
    with pytest.raises(StoreError, match=f"no SQLite database at {path}"):
        await open_store(f"sqlite:///{path}", readonly=True).open()
    assert not path.parent.exists()


async def test_a_sqlite_file_without_the_schema_is_not_migrated(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(StoreError, match="has no FlowMonkey schema"):
        await open_store(f"sqlite:///{path}", readonly=True).open()
    assert path.read_bytes() == b""


@pytest.mark.postgres
async def test_a_postgres_database_without_the_schema_says_so(empty_postgres_database: str) -> None:
    with pytest.raises(StoreError, match="has no FlowMonkey schema"):
        await open_store(empty_postgres_database, readonly=True).open()


async def test_memory_cannot_be_readonly() -> None:
    with pytest.raises(StoreError, match="cannot be read-only"):
        open_store("memory://", readonly=True)
