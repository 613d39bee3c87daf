"""The Runtime on a real PostgreSQL: timers, idleness, timeouts, shutdown, cross-process wakes."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
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
    HandlerParams,
    Result,
    StepResult,
    Store,
    TimeoutConfig,
    handler,
    open_store,
)
from flowmonkey.change import Change
from flowmonkey.coordination import attach_signaler
from flowmonkey.coordination.postgres import PostgresWakeSignaler
from flowmonkey.jobs import JobContext, JobRunner
from flowmonkey.runtime import Runtime
from flowmonkey.stores import _errors
from flowmonkey.stores.postgres import PostgresStore, _queued
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


def engine_for(store: Store, *flows: Mapping[str, object]) -> Engine:
    return Engine(store, flows=[Flow.from_dict(f) for f in flows])


async def completed(engine: Engine, execution_id: str) -> bool:
    execution = await engine.get(execution_id)
    return execution is not None and execution.status is ExecutionStatus.COMPLETED


ALARM = {
    "id": "alarm",
    "version": "1.0.0",
    "initialStepId": "ring",
    "steps": {"ring": {"type": "alarm", "outputKey": "rang"}},
}
TIMERS = 5


async def test_a_timer_due_in_one_second_fires_within_100ms_on_an_idle_runtime(store: Store) -> None:
    """The issue: "a timer due in 1 s fires within 100 ms of its time on an idle runtime".

    Each timer starts from a fully idle runtime on an empty store: creating the execution
    wakes it, the handler's first call waits until its own call time + 1 s, and the step
    re-runs with ``woken_by == "timer"``. Lateness is the handler's second call time minus
    that due time. To stay robust on a loaded 2-core machine the test measures five timers
    one after another and asserts on the median; every timer must fire, never early, and
    far from the 60 s re-check, with a few passes only (the runtime slept, it did not poll).
    """
    due: dict[str, datetime] = {}
    fired: dict[str, datetime] = {}

    @handler("alarm")
    async def alarm(params: HandlerParams) -> StepResult:
        now = datetime.now(UTC)
        if params.woken_by == "timer":
            fired[params.execution.id] = now
            return Result.success()
        due[params.execution.id] = now + timedelta(seconds=1)
        return Result.wait(wake_at=due[params.execution.id], reason="rings in 1 s")

    engine = Engine(store, [alarm], [Flow.from_dict(ALARM)])
    lateness: list[timedelta] = []
    async with Runtime(engine, recheck=timedelta(seconds=60)) as runtime:
        for _ in range(TIMERS):
            idle = await runtime.run_until_idle(timeout=10)
            assert idle.in_flight == 0 and idle.claimed == len(lateness) * 2
            execution, _ = await engine.create("alarm")
            await eventually(functools.partial(completed, engine, execution.id), timeout=5, every=0.02)
            assert runtime.stats.passes - idle.passes < 10
            lateness.append(fired[execution.id] - due[execution.id])
    assert min(lateness) >= timedelta(0) and max(lateness) < timedelta(seconds=1), lateness
    assert sorted(lateness)[len(lateness) // 2] < timedelta(milliseconds=100), lateness


HANGS = {
    "id": "hangs",
    "version": "1.0.0",
    "initialStepId": "work",
    "steps": {"work": {"type": "hang", "outputKey": "work"}},
}
HANGING_HANDLER = """
import asyncio
from flowmonkey import Result, handler

@handler("hang")
async def hang(params):
    await asyncio.sleep(3600)  # outlives the worker, which is killed meanwhile
    return Result.success()
"""
TAKEOVER_LEASE = timedelta(seconds=2)


async def test_an_idle_runtime_takes_over_a_killed_workers_claim_when_its_lease_lapses(
    db: str, store: Store, tmp_path: Path
) -> None:
    """Worker A claims an execution and is SIGKILLed mid-step; runtime B, idle and given
    no signal, takes it over once A's lease lapses, not at its 60 s re-check."""
    flows = write_flows(tmp_path / "flows", [HANGS])
    (flows / "handlers.py").write_text(HANGING_HANDLER)
    taken_over: list[float] = []

    @handler("hang")
    async def finish(params: HandlerParams) -> StepResult:
        taken_over.append(time.monotonic())
        return Result.success("finished by B")

    engine = Engine(store, [finish], [Flow.from_dict(HANGS)])
    execution, _ = await engine.create("hangs")  # worker A claims it as it starts
    lease = f"{TAKEOVER_LEASE.total_seconds():g}s"
    worker = WorkerProcess(
        "--store", db, "--flows", str(flows), "--no-watch", "--lease", lease, "--owner", "A"
    )
    try:
        await worker.start()
        await eventually(lambda: _leased_by(store, execution.id, "A"), timeout=10, every=0.02)
        async with Runtime(engine, owner="B", recheck=timedelta(seconds=60)) as runtime:
            assert (await runtime.run_until_idle(timeout=10)).claimed == 0  # A holds it
            worker.kill()
            killed = time.monotonic()
            await eventually(lambda: completed(engine, execution.id), timeout=10, every=0.02)
    finally:
        await worker.close()
    final = await engine.get(execution.id)
    assert final is not None and final.context["work"] == "finished by B"
    assert taken_over[0] - killed < (TAKEOVER_LEASE + timedelta(milliseconds=200)).total_seconds()


async def _leased_by(store: Store, execution_id: str, owner: str) -> bool:
    execution = await store.get_execution(execution_id)
    return execution is not None and execution.lease_owner == owner


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


async def test_a_renewal_that_deadlocks_is_made_again(store: Store, db: str) -> None:
    # A transaction holds the second row and then wants the first, which the renewal (waiting
    # for the second) holds: PostgreSQL breaks the cycle by failing the renewal, which is
    # made again once the other is done, and finds both leases still held.
    engine = engine_for(store, ten_steps())
    first, second = sorted([(await engine.create("ten")).execution.id for _ in range(2)])
    now = datetime.now(UTC)
    claimed = await store.claim(owner="w", now=now, lease=timedelta(seconds=30), limit=2)
    assert sorted(c.execution.id for c in claimed) == [first, second]
    other = await asyncpg.connect(db)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("UPDATE executions SET updated_at = updated_at WHERE id = $1", second)
        renewal = asyncio.ensure_future(
            store.renew_leases(owner="w", execution_ids=[first, second], until=now + timedelta(minutes=1))
        )
        await asyncio.sleep(0.2)  # the renewal holds the first row and waits for the second
        await other.execute("UPDATE executions SET updated_at = updated_at WHERE id = $1", first)
        await transaction.commit()  # (the renewal was the one failed: it waited first)
        assert await renewal == [first, second]
    finally:
        await other.close()
    renewed = await store.get_execution(first)
    assert renewed is not None and renewed.lease_expires_at == now + timedelta(minutes=1)


async def test_a_child_ending_while_a_renewal_holds_its_parent_does_not_deadlock(
    store: Store, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A renewal locks in id order: the parent, then its child (a child's id sorts after its
    # parent's). The child's ending commit wakes the parent in its transaction: it must
    # take the parent before the child too, or each waits for the other (as it did).
    monkeypatch.setattr(_errors, "CONTENDED_TRIES", 1)  # a deadlock would fail the commit
    engine = engine_for(store, ten_steps())
    parent, child = sorted([(await engine.create("ten")).execution for _ in range(2)], key=lambda e: e.id)
    now = datetime.now(UTC)
    renewal = await asyncpg.connect(db)
    try:
        transaction = renewal.transaction()
        await transaction.start()
        await renewal.execute("SELECT 1 FROM executions WHERE id = $1 FOR UPDATE", parent.id)
        ended = Change(
            child,
            {
                "status": ExecutionStatus.COMPLETED,
                "revision": child.revision + 1,
                "updated_at": now,
                "completed_at": now,
            },
            wake_parent=parent.id,
        )
        commit = asyncio.ensure_future(store.commit(ended))
        await asyncio.sleep(0.2)  # the commit waits for the parent, holding nothing
        await renewal.execute("SELECT 1 FROM executions WHERE id = $1 FOR UPDATE", child.id)
        await transaction.commit()  # a deadlock would have failed one of the two
        assert await commit
    finally:
        await renewal.close()
    stored = await store.get_execution(child.id)
    assert stored is not None and stored.status is ExecutionStatus.COMPLETED


async def test_a_commit_batch_locks_its_rows_in_id_order_whatever_the_plan(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a small table the batch's UPDATE is a hash join over a sequential scan (forced
    # here): it locked rows in the table's order, and deadlocked with a renewal locking
    # the same rows in id order.
    monkeypatch.setattr(_errors, "CONTENDED_TRIES", 1)  # a deadlock would fail the batch
    plan = ("enable_nestloop", "enable_mergejoin", "enable_indexscan", "enable_bitmapscan")
    renewal = await asyncpg.connect(db)
    try:
        for setting in plan:
            await renewal.execute(f'ALTER DATABASE "{urlparse(db).path[1:]}" SET {setting} = off')
        async with open_store(db) as store:
            assert isinstance(store, PostgresStore)
            engine = engine_for(store, ten_steps())
            created = [(await engine.create("ten")).execution for _ in range(2)]
            first, second = sorted(created, key=lambda e: e.id)
            await renewal.execute("UPDATE executions SET updated_at = updated_at WHERE id = $1", first.id)
            order = [r[0] for r in await renewal.fetch("SELECT id FROM executions ORDER BY ctid")]
            assert order == [second.id, first.id]  # the table's order is not the ids'
            first = await store.get_execution(first.id) or first
            transaction = renewal.transaction()
            await transaction.start()
            await renewal.execute("SELECT 1 FROM executions WHERE id = $1 FOR UPDATE", first.id)
            now = datetime.now(UTC)
            changes = [Change(e, {"revision": e.revision + 1, "updated_at": now}) for e in (first, second)]
            written = asyncio.ensure_future(store._flush_together([_queued(c) for c in changes]))
            await asyncio.sleep(0.2)  # the batch waits for the first row, holding nothing
            await renewal.execute("SELECT 1 FROM executions WHERE id = $1 FOR UPDATE", second.id)
            await transaction.commit()
            assert await written == [True, True]
    finally:
        await renewal.close()


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
