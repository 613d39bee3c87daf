"""Store errors say whether they are transient, on real databases: a lost or refused
connection and a locked file are; a constraint or a value the database refuses is not."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from flowmonkey import ExecutionStatus
from flowmonkey.errors import ConflictError, StoreError
from flowmonkey.ids import new_id
from flowmonkey.model import Execution
from flowmonkey.stores.postgres import PostgresStore
from flowmonkey.stores.sqlite import SQLiteStore

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def execution(flow_id: str = "f") -> Execution:
    return Execution(
        id=new_id(),
        flow_id=flow_id,
        flow_version="1.0.0",
        flow_hash="h",
        status=ExecutionStatus.PENDING,
        current_step_id="s0",
        context={},
        created_at=NOW,
        updated_at=NOW,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_locked_sqlite_file_is_a_transient_error(tmp_path: Path) -> None:
    async with SQLiteStore(f"sqlite:///{tmp_path}/locked.db", busy_timeout=0.05) as store:
        holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="locked") as caught:
                await store.create_execution(execution(), now=NOW)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert caught.value.transient is True
        first = execution()
        await store.create_execution(first, now=NOW)
        with pytest.raises(ConflictError) as conflict:
            await store.create_execution(first.copy(), now=NOW)
        assert conflict.value.transient is False


@pytest.mark.postgres
async def test_a_refused_postgres_connection_is_a_transient_error() -> None:
    store = PostgresStore(f"postgresql://postgres:secret@127.0.0.1:{free_port()}/db", connect_timeout=2)
    with pytest.raises(StoreError, match="cannot connect") as caught:
        await store.open()
    assert caught.value.transient is True
    assert "secret" not in str(caught.value)


@pytest.mark.postgres
async def test_a_connection_killed_mid_query_is_transient_and_bad_text_is_not(postgres_database: str) -> None:
    async with PostgresStore(postgres_database, min_size=1, max_size=2) as store:
        with pytest.raises(StoreError) as refused:
            await store.create_execution(execution("nul\x00byte"), now=NOW)
        assert refused.value.transient is False

        slow = asyncio.create_task(store._fetch("probe", "SELECT pg_sleep(30)"))
        admin = await asyncpg.connect(postgres_database)
        try:
            for _ in range(200):  # until the sleeping query is on the server
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()"
                )
                if killed:
                    break
                await asyncio.sleep(0.02)
        finally:
            await admin.close()
        with pytest.raises(StoreError) as lost:
            await slow
        assert lost.value.transient is True
        await store.create_execution(e := execution(), now=NOW)  # the pool connects again
        assert await store.get_execution(e.id) == e
