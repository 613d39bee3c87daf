"""Flow and step health read the same on memory, SQLite and PostgreSQL, and only the window."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from flowmonkey.change import Change
from flowmonkey.ids import new_id
from flowmonkey.model import Execution, ExecutionStatus, StepRecord, StepStatus
from flowmonkey.stores import Store
from flowmonkey.stores.health import StepHealth, percentile

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
_ms = itertools.count(int(T0.timestamp() * 1000))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


async def add(
    store: Store,
    *,
    created: timedelta,
    took: timedelta | None = None,
    status: ExecutionStatus = ExecutionStatus.COMPLETED,
    flow_id: str = "orders",
) -> Execution:
    """An execution created at ``T0 + created``, finished ``took`` later (None: running)."""
    execution = Execution(
        id=new_id(next(_ms)),
        flow_id=flow_id,
        flow_version="1.0.0",
        flow_hash="abc123",
        status=status if took is not None else ExecutionStatus.RUNNING,
        current_step_id="charge",
        context={},
        created_at=T0 + created,
        updated_at=T0 + created,
        completed_at=T0 + created + took if took is not None else None,
    )
    assert (await store.create_execution(execution, now=T0)).created
    return execution


async def run_steps(store: Store, execution: Execution, runs: list[tuple[str, StepStatus, int]]) -> None:
    """Append a history record per ``(step, outcome, milliseconds)``, as commits do."""
    for step_id, outcome, ms in runs:
        sequence = execution.revision + 1
        record = StepRecord(
            execution_id=execution.id,
            sequence=sequence,
            step_id=step_id,
            attempt=1,
            outcome=outcome,
            started_at=execution.created_at,
            finished_at=execution.created_at + timedelta(milliseconds=ms),
        )
        change = Change(execution, {"revision": sequence, "step_count": sequence}, record)
        assert await store.commit(change)
        change.apply()


async def test_flow_health_counts_only_the_window(any_store: Store) -> None:
    for i in range(20):  # finished in the window, 100 ms to 2 s
        await add(any_store, created=minutes(10), took=timedelta(milliseconds=100 * (i + 1)))
    await add(any_store, created=minutes(-30), took=minutes(35), status=ExecutionStatus.FAILED)
    await add(any_store, created=minutes(12), took=HOUR * 5, status=ExecutionStatus.CANCELLED)  # later
    await add(any_store, created=minutes(12), took=minutes(1), status=ExecutionStatus.CANCELLED)
    await add(any_store, created=minutes(-90), took=minutes(20))  # finished before the window
    await add(any_store, created=minutes(59.5))  # still running, started in the last minute
    await add(any_store, created=minutes(10), took=minutes(1), flow_id="refunds")  # another flow
    await add(any_store, created=minutes(60), took=minutes(1))  # after the window

    health = await any_store.flow_health("orders", since=T0, until=T0 + HOUR)

    assert health.flow_id == "orders"
    assert dict(health.finished) == {
        ExecutionStatus.COMPLETED: 20,
        ExecutionStatus.FAILED: 1,
        ExecutionStatus.CANCELLED: 1,
    }
    assert health.success_rate == 20 / 21
    durations = [100.0 * (i + 1) for i in range(20)] + [35 * 60_000.0]
    assert health.p95_ms == percentile(durations, 95) == 2000.0
    expected = [0] * 60
    expected[10], expected[12], expected[59] = 20, 2, 1
    assert list(health.started_per_minute) == expected


async def test_a_quiet_flow_has_no_rate_and_no_percentile(any_store: Store) -> None:
    await add(any_store, created=minutes(-90), took=minutes(1))
    health = await any_store.flow_health("orders", since=T0, until=T0 + HOUR)
    assert health.finished == {} and health.success_rate is None and health.p95_ms is None
    assert health.started_per_minute == (0,) * 60
    unknown = await any_store.flow_health("nothing", since=T0, until=T0 + minutes(5))
    assert unknown.started_per_minute == (0,) * 5 and unknown.p95_ms is None


async def test_step_health_has_percentiles_and_failures_per_step(any_store: Store) -> None:
    for i in range(10):
        execution = await add(any_store, created=minutes(20 + i), took=minutes(1))
        runs = [("charge", StepStatus.RETRY, 500), ("charge", StepStatus.COMPLETED, 10 * (i + 1))]
        runs.append(("ship", StepStatus.COMPLETED, 7))
        await run_steps(any_store, execution, runs)
    held = await add(any_store, created=minutes(40), took=None)
    await run_steps(any_store, held, [("ship", StepStatus.HELD, 9), ("ship", StepStatus.RESUMED, 0)])
    old = await add(any_store, created=minutes(-5), took=minutes(6))  # started before the window
    await run_steps(any_store, old, [("charge", StepStatus.FAILED, 99_999)])

    steps = await any_store.step_health("orders", since=T0, until=T0 + HOUR)

    charge = [500.0] * 10 + [10.0 * (i + 1) for i in range(10)]
    assert steps == [
        StepHealth(
            step_id="charge",
            runs=20,
            failures=10,
            p50_ms=percentile(charge, 50),
            p95_ms=percentile(charge, 95),
        ),
        StepHealth(step_id="ship", runs=11, failures=1, p50_ms=7.0, p95_ms=9.0),
    ]
    assert (percentile(charge, 50), percentile(charge, 95)) == (100.0, 500.0)
