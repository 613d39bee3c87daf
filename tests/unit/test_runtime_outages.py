"""Store outages as the runtime lives through them: only transient errors are retried,
waited out with backoff and two log lines; one that would repeat never runs a handler
again. (A real worker through a real PostgreSQL outage: tests/integration/test_postgres_outage.py.)"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowmonkey import (
    Engine,
    ExecutionStatus,
    Flow,
    HandlerParams,
    MemoryStore,
    Result,
    StepResult,
    StepStatus,
    StoreError,
    handler,
)
from flowmonkey.change import Change
from flowmonkey.outage import Backoff, StoreWatch
from flowmonkey.runtime import Runtime

log = logging.getLogger("test.outage")


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


# -- the parts ------------------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_to_ten_with_jitter() -> None:
    top = Backoff(jitter=lambda: 1.0)
    assert [top.next() for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    bottom = Backoff(jitter=lambda: 0.0)
    assert [bottom.next() for _ in range(3)] == [0.25, 0.5, 1.0]
    bottom.reset()
    assert bottom.next() == 0.25


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lost_error() -> StoreError:
    error = StoreError("claim failed on postgresql://db", transient=True)
    error.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    return error


async def test_a_watch_says_lost_once_reminds_every_ten_seconds_and_says_back_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    watch = StoreWatch("postgresql://app:***@db/x", log, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.outage"):
        for _ in range(50):  # 50 failed calls in 25 s
            with pytest.raises(StoreError):
                async with watch.call():
                    raise lost_error()
            clock.now += 0.5
        assert watch.down
        async with watch.call():
            pass  # a call that succeeds: the store answers
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "store postgresql://app:***@db/x unavailable: [Errno 111] Connect call failed; waiting for it"
        " (retrying with backoff)",
        "store postgresql://app:***@db/x still unavailable after 10s (21 failed calls): [Errno 111] Connect call failed",
        "store postgresql://app:***@db/x still unavailable after 20s (41 failed calls): [Errno 111] Connect call failed",
        "store postgresql://app:***@db/x available again after 25.0s (50 failed calls)",
    ]
    assert all(record.exc_info is None for record in caplog.records)
    assert not watch.down


async def test_a_call_that_began_before_the_store_was_lost_does_not_end_the_outage() -> None:
    watch = StoreWatch("s", log)
    started = asyncio.Event()
    finish = asyncio.Event()

    async def slow_call() -> None:
        async with watch.call():
            started.set()
            await finish.wait()

    slow = asyncio.create_task(slow_call())
    await started.wait()
    watch.lost(lost_error())
    finish.set()
    await slow
    assert watch.down  # its answer came from before
    stopped = asyncio.Event()
    stopped.set()
    assert await watch.until_back(stopped) is False
    watch.answered()
    assert await watch.until_back(stopped) is True


async def test_errors_that_are_not_transient_are_no_outage() -> None:
    watch = StoreWatch("s", log)
    with pytest.raises(StoreError):
        async with watch.call():
            raise StoreError("a value the store refuses")
    assert not watch.down


async def test_a_deadlock_is_no_outage() -> None:
    # Another transaction was in the way: the store answered. Once, two workers' deadlocks
    # were told as "store unavailable", and the releases skipped meanwhile left leases behind.
    watch = StoreWatch("s", log)
    with pytest.raises(StoreError):
        async with watch.call():
            raise StoreError("deadlock detected", contended=True)
    assert not watch.down


# -- the runtime ----------------------------------------------------------------------------


class OutageStore(MemoryStore):
    """A MemoryStore that can be made unreachable: every call then fails, transiently."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls_while_down = 0


def _reachable_only_when_up(name: str) -> Any:
    async def call(self: OutageStore, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            self.calls_while_down += 1
            error = StoreError(f"{name} failed on memory://", transient=True)
            error.__cause__ = ConnectionResetError(104, "Connection reset by peer")
            raise error
        return await getattr(MemoryStore, name)(self, *args, **kwargs)

    return call


for _name in (
    "get_execution",
    "commit",
    "claim",
    "next_wake_at",
    "timed_out",
    "renew_leases",
    "release",
    "history",
    "get_definition",
    "save_definition",
):
    setattr(OutageStore, _name, _reachable_only_when_up(_name))


def ticks(steps: int) -> Flow:
    names = [f"s{i}" for i in range(steps)]
    return Flow.from_dict(
        {
            "id": "ticks",
            "initialStepId": "s0",
            "steps": {
                name: {"type": "tick", "transitions": {"onSuccess": names[i + 1] if i + 1 < steps else None}}
                for i, name in enumerate(names)
            },
        }
    )


async def test_an_outage_is_waited_out_with_two_log_lines_few_calls_and_nothing_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[tuple[str, str]] = []

    @handler("tick")
    async def tick(params: HandlerParams) -> StepResult:
        runs.append((params.execution.id, params.step.id))
        await asyncio.sleep(0.02)
        return Result.success()

    store = OutageStore()
    engine = Engine(store, [tick], [ticks(5)])
    ids = [(await engine.create("ticks", {"n": n})).execution.id for n in range(8)]
    with caplog.at_level(logging.INFO, logger="flowmonkey.runtime"):
        async with Runtime(engine, concurrency=4) as runtime:
            await until(lambda: runtime.stats.steps >= 6)
            store.down = True
            await asyncio.sleep(2.0)  # the outage itself
            store.down = False
            await until(lambda: runtime.stats.steps == 40)
    for execution_id in ids:
        history = await store.history(execution_id)
        assert [r.step_id for r in history] == ["s0", "s1", "s2", "s3", "s4"]  # each committed once
        assert all(r.outcome is StepStatus.COMPLETED for r in history)
        final = await store.get_execution(execution_id)
        assert final is not None and final.status is ExecutionStatus.COMPLETED
    # While down: each step in flight failed once, then waited; the loop alone probed,
    # backing off (about 0, 0.5, 1 s in a 2 s outage).
    assert store.calls_while_down <= 4 + 6, store.calls_while_down
    lines = [record.getMessage() for record in caplog.records]
    assert sum("unavailable: [Errno 104] Connection reset by peer" in line for line in lines) == 1, lines
    assert sum("available again after" in line for line in lines) == 1, lines
    assert all(record.exc_info is None for record in caplog.records)
    assert len(runs) - 40 <= 4  # at most the steps in flight ran their handler again


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_store_error_that_would_repeat_never_runs_the_handler_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0

    @handler("once")
    async def once(params: HandlerParams) -> StepResult:
        nonlocal runs
        runs += 1
        return Result.success({"ok": True})

    class RefusingStore(MemoryStore):
        async def commit(self, change: Change) -> bool:
            if change.record is not None:
                raise StoreError("commit failed on memory://: value too long for type character varying(10)")
            return await super().commit(change)

    clock = ManualClock()
    store = RefusingStore()
    engine = Engine(
        store,
        [once],
        [Flow.from_dict({"id": "f", "initialStepId": "a", "steps": {"a": {"type": "once"}}})],
        clock=clock,
    )
    execution, _ = await engine.create("f")
    with caplog.at_level(logging.INFO, logger="flowmonkey.runtime"):
        async with Runtime(engine, lease=timedelta(seconds=30)) as runtime:
            await runtime.run_until_idle(timeout=5)
            clock.now += timedelta(seconds=31)  # its lease lapses: claimable again
            runtime.poke()
            await runtime.run_until_idle(timeout=5)
            held = await store.get_execution(execution.id)
    assert runs == 1
    assert held is not None and held.status is ExecutionStatus.PENDING and held.lease_owner == runtime.owner
    released = await store.get_execution(execution.id)
    assert released is not None and released.lease_owner is None  # a graceful stop gives it back
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "value too long" in errors[0] and "not stepped again" in errors[0]
    assert all(record.exc_info is None for record in caplog.records)


async def test_stopping_while_the_store_is_lost_is_prompt_and_quiet(caplog: pytest.LogCaptureFixture) -> None:
    @handler("tick")
    async def tick(params: HandlerParams) -> StepResult:
        await asyncio.sleep(0.02)
        return Result.success()

    store = OutageStore()
    engine = Engine(store, [tick], [ticks(50)])
    await engine.create("ticks")
    runtime = Runtime(engine, concurrency=2)
    with caplog.at_level(logging.INFO, logger="flowmonkey.runtime"):
        await runtime.start()
        await until(lambda: runtime.stats.steps >= 2)
        store.down = True
        await until(lambda: "unavailable" in caplog.text)
        started = time.monotonic()
        await runtime.stop(grace=10)
    assert time.monotonic() - started < 1.0  # neither the grace period nor a backoff
    assert all(record.exc_info is None for record in caplog.records)
