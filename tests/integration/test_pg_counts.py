"""PostgreSQL counts executions from counters kept by triggers (migration 12): a count
reads a few rows however many executions there are, and is exact through every kind of
write (batched creates, keyed creates, steps that change the status and steps that do
not, cancels, retention's deletes, a truncate), before and after the changes are folded,
and while several connections write and fold at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from flowmonkey import Engine, Flow, HandlerParams, Result, StepResult, handler
from flowmonkey.model import ExecutionStatus
from flowmonkey.retention import Pruner, RetentionPolicy
from flowmonkey.stores import ExecutionQuery, open_store
from flowmonkey.stores._pg_counts import FOLD_LOCK_KEY
from flowmonkey.stores._pg_sql import SQL
from flowmonkey.stores.postgres import PostgresStore
from flowmonkey_console.format import count_text

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

S = ExecutionStatus
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@handler("tick")
async def tick(params: HandlerParams) -> StepResult:
    return Result.success(1)


@handler("stall")
async def stall(params: HandlerParams) -> StepResult:
    return Result.wait(reason="a person")


@handler("break")
async def broken(params: HandlerParams) -> StepResult:
    return Result.failure("BROKEN", "always")


FLOWS = [
    Flow.from_dict(
        {
            "id": flow,
            "initialStepId": "a",
            "steps": {"a": {"type": "tick", "transitions": {"onSuccess": "b"}}, "b": step},
        }
    )
    for flow, step in (
        ("done", {"type": "tick"}),
        ("stuck", {"type": "stall"}),
        ("bad", {"type": "break"}),
    )
]


async def truth(url: str) -> dict[str | None, Counter[str]]:
    """The counts by reading every row: per flow, and for all (None)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT flow_id, status, count(*) FROM executions GROUP BY 1, 2")
    finally:
        await conn.close()
    counts: dict[str | None, Counter[str]] = {None: Counter()}
    for flow, status, n in rows:
        counts.setdefault(flow, Counter())[status] += n
        counts[None][status] += n
    return counts


async def assert_exact(store: PostgresStore, url: str) -> None:
    expected = await truth(url)
    for flow in (None, "done", "stuck", "bad"):
        counts = await store.count_executions(ExecutionQuery(flow_id=flow))
        assert {s.value: n for s, n in counts.items() if n} == dict(expected.get(flow, Counter())), flow
    waiting = await store.count_executions(ExecutionQuery(statuses=(S.WAITING, S.FAILED)))
    assert {s.value: n for s, n in waiting.items() if n} == {
        k: v for k, v in expected[None].items() if k in ("waiting", "failed")
    }


async def fold(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SQL["fold_counts"], FOLD_LOCK_KEY)
        return int(await conn.fetchval("SELECT count(*) FROM execution_count_changes"))
    finally:
        await conn.close()


async def test_counts_are_exact_through_every_kind_of_write(postgres_database: str) -> None:
    clock = [NOW]
    async with open_store(postgres_database) as store:
        assert isinstance(store, PostgresStore)
        engine = Engine(store, [tick, stall, broken], FLOWS, clock=lambda: clock[0])
        # Creates batched in one statement, and one with an idempotency key (twice).
        made = await asyncio.gather(*(engine.create(f.id) for f in FLOWS for _ in range(7)))
        await engine.create("done", idempotency_key="k")
        await engine.create("done", idempotency_key="k")
        await assert_exact(store, postgres_database)
        ids = [result.execution.id for result in made]
        for execution_id in ids[:-3]:  # done: completed; stuck: waiting; bad: failed
            await engine.run(execution_id)
        await assert_exact(store, postgres_database)
        assert await fold(postgres_database) == 0
        await assert_exact(store, postgres_database)
        for execution_id in ids[-3:]:
            await engine.cancel(execution_id)
        stuck = next(r.execution.id for r in made if r.execution.flow_id == "stuck")
        await engine.resume(stuck, {"ok": True})
        await engine.run(stuck)
        await assert_exact(store, postgres_database)
        clock[0] = NOW + timedelta(days=400)
        report = await Pruner(store, RetentionPolicy(pause=0), clock=lambda: clock[0]).prune()
        assert report.execution_count > 0
        await assert_exact(store, postgres_database)
        conn = await asyncpg.connect(postgres_database)
        try:
            await conn.execute("TRUNCATE executions CASCADE")
        finally:
            await conn.close()
        assert sum((await store.count_executions()).values()) == 0


async def test_writers_and_folders_at_once_leave_the_counts_exact(postgres_database: str) -> None:
    """Four connections move executions between statuses while three fold over and over:
    no change is lost or counted twice, and no one waits on anyone (no deadlock)."""
    setup = await asyncpg.connect(postgres_database)
    await setup.execute(
        "INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, context, created_at, "
        "updated_at, revision, step_count, attempt, metadata) "
        "SELECT 'x' || lpad(i::text, 6, '0'), 'f' || (i % 3), '1', 'h', 'pending', '{}', now(), now(), "
        "1, 0, 1, '{}' FROM generate_series(1, 400) AS i"
    )
    await setup.close()
    statuses = ["running", "waiting", "completed", "failed", "pending"]

    async def writer(part: int) -> None:
        conn = await asyncpg.connect(postgres_database)
        try:
            for round_ in range(15):
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE executions SET status = $1 WHERE id IN "
                        "(SELECT id FROM executions WHERE substr(id, 7, 1)::int % 4 = $2 ORDER BY id)",
                        statuses[(round_ + part) % len(statuses)],
                        part,
                    )
        finally:
            await conn.close()

    async def folder() -> None:
        for _ in range(30):
            await fold(postgres_database)

    await asyncio.gather(*(writer(p) for p in range(4)), *(folder() for _ in range(3)))
    async with open_store(postgres_database) as store:
        assert isinstance(store, PostgresStore)
        await assert_exact_flows(store, postgres_database)
        assert await fold(postgres_database) == 0
        await assert_exact_flows(store, postgres_database)


async def assert_exact_flows(store: PostgresStore, url: str) -> None:
    expected = await truth(url)
    for flow in (None, "f0", "f1", "f2"):
        counts = await store.count_executions(ExecutionQuery(flow_id=flow))
        assert {s.value: n for s, n in counts.items() if n} == dict(expected[flow]), flow


async def test_a_count_of_a_large_store_reads_the_counters_not_the_rows(postgres_database: str) -> None:
    conn = await asyncpg.connect(postgres_database)
    try:
        await conn.execute(
            "INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, context, created_at, "
            "updated_at, revision, step_count, attempt, metadata) "
            "SELECT 'y' || lpad(i::text, 8, '0'), 'f', '1', 'h', "
            "CASE WHEN i % 10 = 0 THEN 'failed' WHEN i % 1000 = 1 THEN 'waiting' ELSE 'completed' END, "
            "'{}', now(), now(), 1, 1, 1, '{}' FROM generate_series(1, 200000) AS i"
        )
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {SQL['counted']}", "f"))
    finally:
        await conn.close()
    assert "executions " not in plan.replace("execution_count", ""), plan  # no scan of executions
    async with open_store(postgres_database) as store:
        counts = await store.count_executions()
    assert counts[S.WAITING] == 200 and counts[S.FAILED] == 20_000
    assert counts[S.COMPLETED] == 200_000 - 20_000 - 200
    assert (
        f"{200_000 - 20_000 - 200:,} completed" in count_text(counts).plain
    )  # exact, as the console shows it
