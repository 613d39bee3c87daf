"""Runtime on MemoryStore: claims, concurrency, timers, resumes, timeouts, leases, stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowmonkey import (
    Change,
    Engine,
    EventType,
    ExecutionStatus,
    Flow,
    HandlerParams,
    MemoryStore,
    Result,
    StepResult,
    StepStatus,
    StoreError,
    TimeoutConfig,
    handler,
)
from flowmonkey.coordination.local import LocalLockManager, LocalWakeHub, LocalWakeSignaler
from flowmonkey.runtime import Runtime


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def chain(flow_id: str, steps: int, step_type: str = "transform") -> Flow:
    """A flow of ``steps`` steps in a row."""
    names = [f"s{i}" for i in range(steps)]
    return Flow.from_dict(
        {
            "id": flow_id,
            "initialStepId": names[0],
            "steps": {
                name: {
                    "type": step_type,
                    "outputKey": name,
                    "transitions": {"onSuccess": names[i + 1] if i + 1 < steps else None},
                }
                for i, name in enumerate(names)
            },
        }
    )


def one_step(flow_id: str, step_type: str, **extra: Any) -> Flow:
    return Flow.from_dict({"id": flow_id, "initialStepId": "a", "steps": {"a": {"type": step_type, **extra}}})


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` (cheap, in memory) until true, failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def test_runs_pending_executions_to_completion_and_counts_steps() -> None:
    store = MemoryStore()
    engine = Engine(store, flows=[chain("ten", 10)])
    ids = [(await engine.create("ten", {"n": i})).execution.id for i in range(5)]
    async with Runtime(engine, concurrency=3) as runtime:
        stats = await runtime.run_until_idle(timeout=5)
    assert stats.steps == 50 and stats.claimed == 5 and stats.in_flight == 0
    for execution_id in ids:
        execution = await store.get_execution(execution_id)
        assert execution is not None and execution.status is ExecutionStatus.COMPLETED
        assert execution.lease_owner is None
        assert [r.sequence for r in await store.history(execution_id)] == list(range(1, 11))


class ReleaseCountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.released: list[str] = []

    async def release(self, *, owner: str, execution_ids: list[str]) -> None:
        self.released.extend(execution_ids)
        await super().release(owner=owner, execution_ids=execution_ids)


async def test_an_execution_that_ended_is_not_released_and_one_that_waits_is() -> None:
    # The ending commit gave the lease back: a release after it was one more statement
    # (and, on PostgreSQL, one more row version) per execution, with the slot held meanwhile.
    @handler("broken")
    async def broken(params: HandlerParams) -> StepResult:
        return Result.failure("BROKEN", "it breaks")

    store = ReleaseCountingStore()
    flows = [chain("ten", 10), one_step("asks", "approval"), one_step("fails", "broken")]
    engine = Engine(store, [broken], flows)
    done = [(await engine.create("ten")).execution.id for _ in range(3)]
    failed = (await engine.create("fails")).execution.id
    waiting = (await engine.create("asks")).execution.id
    async with Runtime(engine, concurrency=5) as runtime:
        stats = await runtime.run_until_idle(timeout=5)
    assert stats.steps == 32 and stats.in_flight == 0
    assert store.released == [waiting]
    for execution_id, status in [
        *((i, ExecutionStatus.COMPLETED) for i in done),
        (failed, ExecutionStatus.FAILED),
    ]:
        execution = await store.get_execution(execution_id)
        assert execution is not None and execution.status is status and execution.lease_owner is None
    parked = await store.get_execution(waiting)
    assert parked is not None and parked.status is ExecutionStatus.WAITING and parked.lease_owner is None


async def test_never_steps_more_executions_at_once_than_its_concurrency() -> None:
    gate = asyncio.Event()
    running = 0
    peak = 0

    @handler("slow")
    async def slow(params: HandlerParams) -> StepResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1
        return Result.success()

    engine = Engine(MemoryStore(), [slow], [one_step("f", "slow")])
    for _ in range(6):
        await engine.create("f")
    async with Runtime(engine, concurrency=2) as runtime:
        await until(lambda: running == 2)
        assert runtime.stats.in_flight == 2
        gate.set()
        stats = await runtime.run_until_idle(timeout=5)
    assert peak == 2 and stats.steps == 6


async def test_creating_an_execution_wakes_a_sleeping_runtime() -> None:
    engine = Engine(MemoryStore(), flows=[chain("f", 2)])
    done = asyncio.Event()
    engine.events.subscribe(lambda e: done.set(), [EventType.EXECUTION_COMPLETED])
    async with Runtime(engine) as runtime:
        await runtime.run_until_idle(timeout=5)
        await engine.create("f")
        await asyncio.wait_for(done.wait(), 2)


@handler("wait-once")
async def wait_once(params: HandlerParams) -> StepResult:
    """Waits until ``config.seconds`` from now; succeeds when woken by the timer."""
    if params.woken_by == "timer":
        return Result.success({"woken_at": params.now.isoformat()})
    return Result.wait(wake_at=params.now + timedelta(seconds=params.step.config["seconds"]), reason="timer")


async def test_a_timer_fires_on_time_on_an_idle_runtime() -> None:
    engine = Engine(MemoryStore(), [wait_once], [one_step("t", "wait-once", config={"seconds": 0.3})])
    fired = asyncio.Event()
    engine.events.subscribe(lambda e: fired.set(), [EventType.EXECUTION_COMPLETED])
    async with Runtime(engine) as runtime:
        execution, _ = await engine.create("t")
        await runtime.run_until_idle(timeout=5)
        waiting = await engine.get(execution.id)
        assert waiting is not None and waiting.status is ExecutionStatus.WAITING and waiting.wake_at
        await asyncio.wait_for(fired.wait(), 2)
        late = datetime.now(UTC) - waiting.wake_at
    assert timedelta(0) <= late < timedelta(milliseconds=100)


async def test_timers_follow_an_injected_clock() -> None:
    clock = ManualClock()
    engine = Engine(
        MemoryStore(), [wait_once], [one_step("t", "wait-once", config={"seconds": 3600})], clock=clock
    )
    async with Runtime(engine) as runtime:
        execution, _ = await engine.create("t")
        await runtime.run_until_idle(timeout=5)
        clock.advance(minutes=59)
        await runtime.run_until_idle(timeout=5)
        early = await engine.get(execution.id)
        clock.advance(minutes=1)
        await runtime.run_until_idle(timeout=5)
        done = await engine.get(execution.id)
    assert early is not None and early.status is ExecutionStatus.WAITING
    assert done is not None and done.status is ExecutionStatus.COMPLETED


async def test_a_resume_through_another_engine_on_the_same_store_is_picked_up() -> None:
    store = MemoryStore()
    flow = Flow.from_dict(
        {
            "id": "ok",
            "initialStepId": "ask",
            "steps": {
                "ask": {
                    "type": "wait-once",
                    "config": {"seconds": 86400},
                    "transitions": {"onSuccess": "after"},
                },
                "after": {"type": "transform", "outputKey": "after"},
            },
        }
    )
    hub = LocalWakeHub()
    engine = Engine(store, [wait_once], [flow])
    operator = Engine(store, [wait_once], [flow])  # e.g. the console, elsewhere
    operator_signals = LocalWakeSignaler(hub)
    await operator_signals.start(lambda *_: None)
    operator.add_wake_listener(operator_signals.notify)
    done = asyncio.Event()
    engine.events.subscribe(lambda e: done.set(), [EventType.EXECUTION_COMPLETED])
    async with Runtime(engine, signaler=LocalWakeSignaler(hub)) as runtime:
        execution, _ = await operator.create("ok")
        await runtime.run_until_idle(timeout=5)
        await operator.resume(execution.id, {"approved": True})
        await asyncio.wait_for(done.wait(), 2)
    final = await store.get_execution(execution.id)
    assert final is not None and final.context["after"] == {}


async def test_a_wait_timeout_cancels_with_source_timeout() -> None:
    clock = ManualClock()
    engine = Engine(
        MemoryStore(), [wait_once], [one_step("w", "wait-once", config={"seconds": 86400})], clock=clock
    )
    async with Runtime(engine) as runtime:
        execution, _ = await engine.create("w", timeout=TimeoutConfig(wait=timedelta(minutes=5)))
        await runtime.run_until_idle(timeout=5)
        clock.advance(minutes=5)
        await runtime.run_until_idle(timeout=5)
        assert runtime.stats.timeouts == 1
    final = await engine.get(execution.id)
    assert final is not None and final.status is ExecutionStatus.CANCELLED
    assert final.cancellation is not None and final.cancellation.source == "timeout"
    assert "wait timeout" in (final.cancellation.reason or "")


async def test_an_execution_timeout_cancels_with_source_timeout() -> None:
    clock = ManualClock()
    engine = Engine(
        MemoryStore(), [wait_once], [one_step("w", "wait-once", config={"seconds": 86400})], clock=clock
    )
    async with Runtime(engine) as runtime:
        execution, _ = await engine.create("w", timeout=TimeoutConfig(execution=timedelta(hours=1)))
        await runtime.run_until_idle(timeout=5)
        clock.advance(hours=2)
        await runtime.run_until_idle(timeout=5)
    final = await engine.get(execution.id)
    assert final is not None and final.cancellation is not None
    assert final.cancellation.source == "timeout" and "execution timeout" in (final.cancellation.reason or "")


async def test_a_crashed_owners_claim_is_taken_over_once_its_lease_lapses() -> None:
    clock = ManualClock()
    store = MemoryStore()
    engine = Engine(store, flows=[chain("f", 3)], clock=clock)
    execution, _ = await engine.create("f")
    await store.claim(owner="crashed", now=clock(), lease=timedelta(seconds=30), limit=10)
    async with Runtime(engine, lease=timedelta(seconds=30)) as runtime:
        await runtime.run_until_idle(timeout=5)
        assert (await store.history(execution.id)) == []
        clock.advance(seconds=31)
        runtime.poke()
        await runtime.run_until_idle(timeout=5)
    final = await store.get_execution(execution.id)
    assert final is not None and final.status is ExecutionStatus.COMPLETED and final.lease_owner is None


async def test_an_idle_runtime_takes_over_a_crashed_claim_when_its_lease_lapses() -> None:
    store = MemoryStore()
    engine = Engine(store, flows=[chain("f", 2)])
    execution, _ = await engine.create("f")
    lease = timedelta(milliseconds=300)
    [(claimed, _, _)] = await store.claim(owner="crashed", now=engine.now(), lease=lease, limit=1)
    async with Runtime(engine, recheck=timedelta(minutes=10)) as runtime:
        await runtime.run_until_idle(timeout=5)  # nothing claimable: asleep until the lapse
        await until(lambda: runtime.stats.steps == 2, timeout=3)
    assert runtime.stats.takeovers == 1
    takeover, *steps = await store.history(execution.id)
    assert takeover.outcome is StepStatus.TAKEOVER and "worker crashed was lost" in (takeover.note or "")
    assert claimed.lease_expires_at is not None and takeover.started_at == claimed.lease_expires_at
    late = steps[0].started_at - claimed.lease_expires_at
    assert timedelta(0) <= late < timedelta(milliseconds=200), late


async def test_a_runtime_does_not_wake_for_the_leases_it_renews_itself() -> None:
    gate, started = asyncio.Event(), asyncio.Event()

    @handler("long")
    async def long(params: HandlerParams) -> StepResult:
        started.set()
        await gate.wait()
        return Result.success()

    engine = Engine(MemoryStore(), [long], [one_step("f", "long")])
    async with Runtime(engine, concurrency=2, lease=timedelta(milliseconds=200)) as runtime:
        await engine.create("f")
        await asyncio.wait_for(started.wait(), 5)
        await until(lambda: runtime.stats.claimed == 1)
        passes = runtime.stats.passes
        watched = time.monotonic()
        await until(lambda: time.monotonic() - watched > 1.0)  # five lease periods
        assert runtime.stats.passes == passes
        gate.set()
        await until(lambda: runtime.stats.steps == 1)


async def test_a_claim_kept_as_a_back_off_is_retried_when_it_lapses_without_a_poke() -> None:
    class FailsOnce(MemoryStore):
        failed = False

        async def commit(self, change: Change) -> bool:
            if not self.failed:
                self.failed = True
                raise RuntimeError("a bug in a store")  # not a StoreError: no way to know
            return await super().commit(change)

    store = FailsOnce()
    engine = Engine(store, flows=[chain("f", 1)])
    execution, _ = await engine.create("f")
    lease = timedelta(milliseconds=300)
    async with Runtime(engine, lease=lease, recheck=timedelta(minutes=10)) as runtime:
        failed_at = time.monotonic()
        await until(lambda: runtime.stats.steps == 1, timeout=3)
        retried_after = time.monotonic() - failed_at
    final = await store.get_execution(execution.id)
    assert final is not None and final.status is ExecutionStatus.COMPLETED
    assert lease.total_seconds() <= retried_after < 1.0


async def test_leases_are_renewed_while_a_long_step_runs() -> None:
    gate = asyncio.Event()
    calls = 0

    @handler("long")
    async def long(params: HandlerParams) -> StepResult:
        nonlocal calls
        calls += 1
        await gate.wait()
        return Result.success()

    store = MemoryStore()
    engine = Engine(store, [long], [one_step("f", "long")])
    execution, _ = await engine.create("f")
    lease = timedelta(milliseconds=400)
    async with Runtime(engine, lease=lease, owner="a"), Runtime(engine, lease=lease, owner="b") as other:
        await until(lambda: calls == 1)
        started = time.monotonic()
        await until(lambda: time.monotonic() - started > 1.3)  # > 3 leases
        held = await store.get_execution(execution.id)
        other.poke()
        await other.run_until_idle(timeout=5)
        gate.set()
        await until(lambda: other.stats.in_flight == 0 and calls == 1)
    assert held is not None and held.lease_owner == "a" and calls == 1


async def test_graceful_stop_finishes_in_flight_steps_and_releases_every_claim() -> None:
    finish = asyncio.Event()
    started = 0

    @handler("slow")
    async def slow(params: HandlerParams) -> StepResult:
        nonlocal started
        started += 1
        await finish.wait()
        return Result.success("done")

    store = MemoryStore()
    engine = Engine(store, [slow], [chain("f", 2, "slow")])
    ids = [(await engine.create("f")).execution.id for _ in range(3)]
    runtime = Runtime(engine, concurrency=3)
    await runtime.start()
    await until(lambda: started == 3)
    stopping = asyncio.create_task(runtime.stop(grace=5))
    await until(lambda: runtime.stopping)
    finish.set()
    await stopping
    for execution_id in ids:
        execution = await store.get_execution(execution_id)
        # the in-flight step committed, and no further step was started
        assert execution is not None and execution.step_count == 1
        assert execution.current_step_id == "s1" and execution.lease_owner is None
    assert started == 3


async def test_stop_cancels_steps_that_outlive_the_grace_period_and_releases_them() -> None:
    @handler("stuck")
    async def stuck(params: HandlerParams) -> StepResult:
        await asyncio.Event().wait()
        return Result.success()

    store = MemoryStore()
    engine = Engine(store, [stuck], [one_step("f", "stuck")])
    execution, _ = await engine.create("f")
    runtime = Runtime(engine)
    await runtime.start()
    await until(lambda: runtime.stats.in_flight == 1)
    await runtime.stop(grace=0.05)
    final = await store.get_execution(execution.id)
    assert final is not None and final.lease_owner is None and final.status is ExecutionStatus.PENDING


async def test_two_runtimes_with_a_lock_manager_commit_each_step_once() -> None:
    store = MemoryStore()
    engine_a = Engine(store, flows=[chain("f", 5)])
    engine_b = Engine(store, flows=[chain("f", 5)])
    ids = [(await engine_a.create("f")).execution.id for _ in range(20)]
    locks = LocalLockManager()
    hub = LocalWakeHub()
    async with (
        Runtime(engine_a, concurrency=4, lock_manager=locks, signaler=LocalWakeSignaler(hub)) as a,
        Runtime(engine_b, concurrency=4, lock_manager=locks, signaler=LocalWakeSignaler(hub)) as b,
    ):
        await a.run_until_idle(timeout=5)
        await b.run_until_idle(timeout=5)
    assert a.stats.steps + b.stats.steps == 100
    for execution_id in ids:
        history = await store.history(execution_id)
        assert [r.step_id for r in history] == ["s0", "s1", "s2", "s3", "s4"]


async def test_a_store_failure_does_not_kill_the_runtime() -> None:
    class FlakyStore(MemoryStore):
        fail = True

        async def claim(self, **kwargs: Any) -> Any:
            if self.fail:
                self.fail = False
                from flowmonkey import StoreError

                raise StoreError("database went away")
            return await super().claim(**kwargs)

    store = FlakyStore()
    engine = Engine(store, flows=[chain("f", 1)])
    execution, _ = await engine.create("f")
    async with Runtime(engine) as runtime:
        await runtime.run_until_idle(timeout=5)
    final = await store.get_execution(execution.id)
    assert final is not None and final.status is ExecutionStatus.COMPLETED


def test_bad_settings_are_refused_with_a_clear_message() -> None:
    engine = Engine(MemoryStore())
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        Runtime(engine, concurrency=0)


async def test_an_unreachable_lock_manager_does_not_stop_the_work() -> None:
    class DownLocks(LocalLockManager):
        async def acquire(self, key: str, *, ttl: float, renew: bool = True) -> Any:

            raise StoreError("redis is down")

    store = MemoryStore()
    engine = Engine(store, flows=[chain("f", 3)])
    execution, _ = await engine.create("f")
    async with Runtime(engine, lock_manager=DownLocks()) as runtime:
        stats = await runtime.run_until_idle(timeout=5)
    final = await store.get_execution(execution.id)
    assert stats.steps == 3 and final is not None and final.status is ExecutionStatus.COMPLETED


async def test_an_execution_that_keeps_failing_to_step_is_retried_after_its_lease_not_in_a_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BrokenCommits(MemoryStore):
        attempts = 0

        async def commit(self, change: Change) -> bool:
            self.attempts += 1
            raise RuntimeError("disk full")  # not a StoreError: what it means is unknown

    clock = ManualClock()
    store = BrokenCommits()
    engine = Engine(store, flows=[chain("f", 1)], clock=clock)
    execution, _ = await engine.create("f")
    async with Runtime(engine, lease=timedelta(seconds=30)) as runtime:
        await runtime.run_until_idle(timeout=5)
        await runtime.run_until_idle(timeout=5)
        assert store.attempts == 1
        held = await store.get_execution(execution.id)
        clock.advance(seconds=31)
        runtime.poke()
        await runtime.run_until_idle(timeout=5)
    final = await store.get_execution(execution.id)
    assert held is not None and held.lease_owner == runtime.owner  # kept: the back-off
    assert final is not None and final.lease_owner is None  # given back on stop
    assert store.attempts == 2 and "disk full" in caplog.text


async def test_a_timer_set_by_another_process_shortens_the_sleep() -> None:
    store = MemoryStore()
    flow = one_step("t", "wait-once", config={"seconds": 0.2})
    hub = LocalWakeHub()
    elsewhere = Engine(store, [wait_once], [flow])  # another process, which steps itself
    signals = LocalWakeSignaler(hub)
    await signals.start(lambda *_: None)
    engine = Engine(store, [wait_once], [flow])
    fired = asyncio.Event()
    engine.events.subscribe(lambda e: fired.set(), [EventType.EXECUTION_COMPLETED])
    async with Runtime(engine, signaler=LocalWakeSignaler(hub), recheck=timedelta(minutes=10)) as runtime:
        await runtime.run_until_idle(timeout=5)  # asleep for the 10-minute re-check
        execution, _ = await elsewhere.create("t")
        await store.claim(owner="elsewhere", now=elsewhere.now(), lease=timedelta(seconds=30), limit=1)
        waiting = (await elsewhere.step(execution.id)).execution
        await store.release(owner="elsewhere", execution_ids=[execution.id])
        signals.notify(execution.id, waiting.wake_at)
        await asyncio.wait_for(fired.wait(), 2)
    await signals.stop()
    assert runtime.stats.steps == 1  # only the timer's step ran here


async def test_stop_twice_and_restart_work() -> None:
    engine = Engine(MemoryStore(), flows=[chain("f", 2)])
    runtime = Runtime(engine)
    await runtime.start()
    await asyncio.gather(runtime.stop(), runtime.stop())
    execution, _ = await engine.create("f")
    stats = await runtime.run_until_idle(timeout=5)  # starts again
    await runtime.stop()
    final = await engine.get(execution.id)
    assert stats.steps == 2 and final is not None and final.status is ExecutionStatus.COMPLETED
