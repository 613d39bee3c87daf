"""The change feed: every history record any process commits, once, in one feed; on
PostgreSQL a transaction that commits after a later one is still delivered."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowmonkey.errors import StoreError
from flowmonkey.stores import FeedPage, Store, open_store

from .test_store_contract import T0, execution, record, step


async def read_all(store: Store, cursor: str, *, limit: int = 2) -> tuple[list[tuple[str, int]], str]:
    """Every entry after ``cursor``, read in pages of ``limit``: (execution, sequence)."""
    seen: list[tuple[str, int]] = []
    while True:
        page = await store.feed(after=cursor, limit=limit)
        seen += [(e.record.execution_id, e.record.sequence) for e in page.entries]
        cursor = page.cursor
        if len(page.entries) < limit:
            return seen, cursor


async def test_the_feed_holds_every_commit_once_in_commit_order(any_store: Store) -> None:
    start = await any_store.feed()
    assert start.entries == []
    first, second = execution(), execution(flow_id="refunds")
    for e in (first, second):
        await any_store.create_execution(e, now=T0)
    for e in (first, second, first, second, first):
        assert await step(any_store, e)
    seen = await read_until(any_store, start.cursor, count=5)
    assert seen == [(first.id, 1), (second.id, 1), (first.id, 2), (second.id, 2), (first.id, 3)]
    _, cursor = await read_all(any_store, start.cursor)
    assert await any_store.feed(after=cursor) == FeedPage(entries=[], cursor=cursor)
    tail = await any_store.feed(limit=2)  # the newest two, oldest first
    assert [(e.record.execution_id, e.record.sequence, e.flow_id) for e in tail.entries] == [
        (second.id, 2, "refunds"),
        (first.id, 3, "orders"),
    ]
    assert tail.entries[1].record == record(first, 3)
    assert tail.cursor == cursor


async def test_a_cursor_of_another_store_is_refused(any_store: Store) -> None:
    with pytest.raises(StoreError, match="not a change feed cursor"):
        await any_store.feed(after="x12")


@pytest.mark.postgres
async def test_postgres_delivers_a_transaction_that_commits_after_a_later_one(postgres_database: str) -> None:
    """Two sessions insert records; the one that took the lower feed number commits last.
    A cursor on the number alone would pass it by; the feed waits for it instead."""
    import asyncpg

    first, second = execution(), execution()
    async with open_store(postgres_database) as store:
        for e in (first, second):
            await store.create_execution(e, now=T0)
        cursor = (await store.feed()).cursor
        early, late = await asyncpg.connect(postgres_database), await asyncpg.connect(postgres_database)
        try:
            early_tx, late_tx = early.transaction(), late.transaction()
            await early_tx.start()
            await _insert_record(early, first.id, 1)  # takes the lower feed number
            await late_tx.start()
            await _insert_record(late, second.id, 1)
            numbers = (
                await early.fetchval("SELECT max(feed_seq) FROM step_records"),
                await late.fetchval("SELECT max(feed_seq) FROM step_records"),
            )
            assert numbers[0] < numbers[1]
            await late_tx.commit()  # the later number commits first
            visible = await store.history(second.id)
            assert [r.sequence for r in visible] == [1]
            for _ in range(5):  # however often it is asked
                page = await store.feed(after=cursor)
                assert page.entries == []  # not yet: a transaction below it is still open
                assert page.cursor == cursor
                await asyncio.sleep(0.05)
            await early_tx.commit()
            seen = await read_until(store, cursor, count=2)
        finally:
            await early.close()
            await late.close()
    assert seen == [(first.id, 1), (second.id, 1)]


async def read_until(store: Store, cursor: str, *, count: int) -> list[tuple[str, int]]:
    """Read on until ``count`` entries came: the server is shared, and another database's
    transaction that is still open holds the feed back for as long as it stays open."""
    seen: list[tuple[str, int]] = []
    deadline = asyncio.get_running_loop().time() + 20
    while len(seen) < count and asyncio.get_running_loop().time() < deadline:
        more, cursor = await read_all(store, cursor)
        seen += more
        await asyncio.sleep(0.02)
    return seen


async def _insert_record(conn: object, execution_id: str, sequence: int) -> None:
    await conn.execute(  # type: ignore[attr-defined]
        "INSERT INTO step_records (execution_id, sequence, step_id, attempt, outcome, started_at, finished_at)"
        " VALUES ($1, $2, 's0', 1, 'completed', $3, $3)",
        execution_id,
        sequence,
        T0,
    )


async def test_sqlite_feed_survives_deleting_the_newest_records(tmp_path: Path) -> None:
    """A number is never handed out twice: a record written after the newest ones were
    deleted still comes after the cursor that had seen them."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'feed.db'}"
    e = execution()
    async with open_store(url) as store:
        await store.create_execution(e, now=T0)
        assert await step(store, e)
        cursor = (await store.feed()).cursor
    conn = sqlite3.connect(tmp_path / "feed.db")
    with conn:
        conn.execute("DELETE FROM step_records")
    conn.close()
    async with open_store(url) as store:
        assert await step(store, e)
        page = await store.feed(after=cursor)
    assert [(x.record.execution_id, x.record.sequence) for x in page.entries] == [(e.id, 2)]


@pytest.mark.postgres
async def test_postgres_is_not_held_back_by_a_transaction_in_another_database(
    postgres_database: str, postgres_dsn: str
) -> None:
    """Transaction ids are the whole server's; one open in another database cannot write
    here, so the feed does not wait for it."""
    import asyncpg

    e = execution()
    elsewhere = await asyncpg.connect(postgres_dsn)  # another database of the same server
    try:
        async with open_store(postgres_database) as store:
            await store.create_execution(e, now=T0)
            cursor = (await store.feed()).cursor
            async with elsewhere.transaction():
                await elsewhere.fetchval("SELECT pg_current_xact_id()")  # open, with an id
                assert await step(store, e)
                seen = await read_until(store, cursor, count=1)
    finally:
        await elsewhere.close()
    assert seen == [(e.id, 1)]
