"""The Runtime on a real PostgreSQL: timers, idleness, timeouts, shutdown, cross-process wakes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import pytest

from flowmonkey import (
    Engine,
    EventType,
    ExecutionQuery,
    ExecutionStatus,
    Flow,
    Store,
    TimeoutConfig,
    open_store,
)
from flowmonkey.coordination import attach_signaler
from flowmonkey.coordination.postgres import PostgresWakeSignaler
from flowmonkey.jobs import JobContext, JobRunner
from flowmonkey.runtime import Runtime
from tests.integration.runtime_support import (
    APPROVAL,
    WorkerProcess,
    eventually,
    fresh_database,
    last_query_at,
    ten_steps,
    timer_flow,
    write_flows,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def db(postgres_dsn: str) -> AsyncIterator[str]:
    async with fresh_database(postgres_dsn) as dsn:
        yield dsn


@pytest.fixture
async def store(db: str) -> AsyncIterator[Store]:
    async with open_store(db) as opened:
        yield opened


def engine_for(store: Store, *flows: dict[str, object]) -> Engine:
    return Engine(store, flows=[Flow.from_dict(f) for f in flows])


async def completed(engine: Engine, execution_id: str) -> bool:
    execution = await engine.get(execution_id)
    return execution is not None and execution.status is ExecutionStatus.COMPLETED


async def test_a_timer_due_in_one_second_fires_within_100ms(store: Store) -> None:
    engine = engine_for(store, timer_flow(1))
    async with Runtime(engine) as runtime:
        await runtime.run_until_idle(timeout=10)
        execution, _ = await engine.create("timer-1")
        await runtime.run_until_idle(timeout=10)
        waiting = await engine.get(execution.id)
        assert waiting is not None and waiting.status is ExecutionStatus.WAITING
        await eventually(lambda: completed(engine, execution.id), timeout=5, every=0.05)
    history = await store.history(execution.id)
    woken = history[1]  # the delay step, run again by the timer
    assert woken.step_id == "sleep" and waiting.wake_at is not None
    late = woken.started_at - waiting.wake_at
    assert timedelta(0) <= late < timedelta(milliseconds=100), late


async def test_an_idle_runtime_issues_no_queries_for_ten_seconds(
    store: Store, db: str, postgres_dsn: str
) -> None:
    # The timer (due after the quiet window) proves the runtime is alive, not stuck.
    engine = engine_for(store, timer_flow(11))
    database = urlparse(db).path.lstrip("/")
    async with Runtime(engine, signaler=PostgresWakeSignaler(db)) as runtime:
        execution, _ = await engine.create("timer-11")
        await runtime.run_until_idle(timeout=10)
        waiting = await engine.get(execution.id)
        assert waiting is not None and waiting.status is ExecutionStatus.WAITING
        started = time.monotonic()
        passes = runtime.stats.passes
        await asyncio.sleep(10)  # the measurement window, not synchronisation
        sessions = await last_query_at(postgres_dsn, database)
        quiet_for = time.monotonic() - started
        assert runtime.stats.passes == passes
        assert sessions, "the runtime should hold connections to the database"
        busy = [(pid, ago) for pid, ago in sessions if ago < quiet_for - 0.05]
        assert busy == [], f"sessions queried during the idle window: {busy}"
        await eventually(lambda: completed(engine, execution.id), timeout=5, every=0.05)
    history = await store.history(execution.id)
    assert waiting is not None and waiting.wake_at is not None
    assert history[1].started_at - waiting.wake_at < timedelta(milliseconds=100)


async def test_execution_and_wait_timeouts_cancel_with_source_timeout(store: Store) -> None:
    engine = engine_for(store, APPROVAL, timer_flow(30))
    async with Runtime(engine) as runtime:
        waits, _ = await engine.create("approve", timeout=TimeoutConfig(wait=timedelta(milliseconds=500)))
        runs, _ = await engine.create(
            "timer-30", timeout=TimeoutConfig(execution=timedelta(milliseconds=700))
        )
        await runtime.run_until_idle(timeout=10)

        async def both_cancelled() -> bool:
            found = [await engine.get(i) for i in (waits.id, runs.id)]
            return all(e is not None and e.status is ExecutionStatus.CANCELLED for e in found)

        await eventually(both_cancelled, timeout=5, every=0.05)
    wait_cancelled, run_cancelled = await engine.get(waits.id), await engine.get(runs.id)
    assert wait_cancelled is not None and wait_cancelled.cancellation is not None
    assert run_cancelled is not None and run_cancelled.cancellation is not None
    assert wait_cancelled.cancellation.source == run_cancelled.cancellation.source == "timeout"
    assert "wait timeout" in (wait_cancelled.cancellation.reason or "")
    assert "execution timeout" in (run_cancelled.cancellation.reason or "")


async def test_graceful_shutdown_leaves_no_execution_claimed(store: Store) -> None:
    engine = engine_for(store, ten_steps())
    for _ in range(150):
        await engine.create("ten")
    runtime = Runtime(engine, concurrency=8)
    await runtime.start()
    await eventually(lambda: runtime.stats.steps >= 100, timeout=20, every=0.02)
    await runtime.stop(grace=5)
    assert runtime.stats.in_flight == 0
    claimed, cursor = [], None
    while True:
        page = await store.list_executions(ExecutionQuery(), limit=100, cursor=cursor)
        claimed += [e.id for e in page.items if e.lease_owner is not None]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    counts = await store.count_executions()
    assert claimed == []
    assert counts[ExecutionStatus.COMPLETED] < 150  # stopped mid-run: a real shutdown was tested


async def test_a_resume_in_another_process_wakes_the_worker_at_once(
    db: str, store: Store, tmp_path: Path
) -> None:
    flows = write_flows(tmp_path / "flows", [APPROVAL])
    worker = await WorkerProcess(
        "--store", db, "--flows", str(flows), "--no-watch", "--recheck", "60s"
    ).start()
    try:
        engine = engine_for(store, APPROVAL)
        signaler = PostgresWakeSignaler(db)
        await signaler.start(lambda *_: None)
        attach_signaler(engine, signaler)
        try:
            execution, _ = await engine.create("approve")
            await eventually(
                lambda: _status_is(engine, execution.id, ExecutionStatus.WAITING), timeout=5, every=0.02
            )
            resumed_at = time.monotonic()
            await engine.resume(execution.id, {"ok": True})
            await eventually(lambda: completed(engine, execution.id), timeout=5, every=0.01)
            latency = time.monotonic() - resumed_at
        finally:
            await signaler.stop()
        assert latency < 1.0  # far below the 60 s re-check: the NOTIFY woke it
        assert await worker.terminate() == 0
    finally:
        await worker.close()
    lines = "\n".join(worker.lines)
    assert f"{EventType.EXECUTION_COMPLETED.value} {execution.id}" in lines


async def _status_is(engine: Engine, execution_id: str, status: ExecutionStatus) -> bool:
    execution = await engine.get(execution_id)
    return execution is not None and execution.status is status


async def test_a_job_step_completes_through_the_job_runner(store: Store) -> None:
    flow = {
        "id": "job",
        "initialStepId": "work",
        "steps": {"work": {"type": "job", "config": {"jobType": "count"}, "outputKey": "result"}},
    }

    async def count(ctx: JobContext) -> int:
        for n in range(1, 4):
            await ctx.checkpoint(n)
        return int(ctx.last_checkpoint) * 10

    engine = engine_for(store, flow)
    async with Runtime(engine, jobs=JobRunner(engine, {"count": count})):
        execution, _ = await engine.create("job")
        await eventually(lambda: completed(engine, execution.id), timeout=10, every=0.02)
    final = await engine.get(execution.id)
    assert final is not None and final.context["result"] == 30


async def test_the_listener_reconnects_after_its_connection_is_killed(db: str) -> None:
    receiver, sender = PostgresWakeSignaler(db), PostgresWakeSignaler(db)
    heard: list[str | None] = []
    await receiver.start(lambda execution_id, _: heard.append(execution_id))
    await sender.start(lambda *_: None)
    try:
        admin = await asyncpg.connect(db)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        finally:
            await admin.close()
        await eventually(lambda: None in heard, timeout=5, every=0.02)  # "look for work" after reconnect
        sender.notify("after-reconnect")
        await eventually(lambda: "after-reconnect" in heard, timeout=5, every=0.02)
    finally:
        await sender.stop()
        await receiver.stop()
