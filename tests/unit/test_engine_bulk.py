"""Bulk actions by filter (flowmonkey.bulk): a set frozen at the preview, worked in batches
by keyset, re-runnable without doing anything twice. Collected again on SQLite and
PostgreSQL by tests/integration/test_engine_on_stores.py."""

from __future__ import annotations

import asyncio

from flowmonkey import (
    BulkRun,
    Engine,
    ExecutionQuery,
    ExecutionStatus,
    Flow,
    HandlerParams,
    Result,
    StepResult,
    StepStatus,
    Store,
    cancel_action,
    handler,
    migrate_action,
    preview,
    retry_action,
)

HELD = ExecutionQuery(statuses=(ExecutionStatus.HELD,), flow_id="ship")


@handler("down")
async def down(params: HandlerParams) -> StepResult:
    return Result.failure("HTTP_ERROR", "503")


def ship(version: str = "1.0.0") -> Flow:
    return Flow.from_dict(
        {
            "id": "ship",
            "version": version,
            "onExhausted": "hold",
            "initialStepId": "call",
            "steps": {"call": {"type": "down", "outputKey": "out"}},
        }
    )


async def held(engine: Engine, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        execution, _ = await engine.create("ship", {})
        ids.append((await engine.run(execution.id)).id)
        await asyncio.sleep(0.002)  # ids sort by the millisecond they were made in
    return ids


async def test_the_set_is_frozen_at_the_preview_and_worked_in_batches_once(store: Store) -> None:
    engine = Engine(store, [down], [ship()])
    before = await held(engine, 7)
    plan = await preview(store, HELD, first=3)
    assert plan.count == 7 and list(plan.first_ids) == before[::-1][:3] and plan.newest_id == before[-1]
    late = await held(engine, 1)  # arrives while the action runs: left alone
    batches: list[int] = []
    run = BulkRun(
        store,
        plan,
        retry_action(engine, "ops"),
        paced=False,
        batch=3,
        on_progress=lambda p: batches.append(p.seen),
    )
    result = await run.run()
    assert result.done == 7 and batches == [3, 6, 7]
    for execution_id in before:
        assert (await engine.get(execution_id)).status is ExecutionStatus.RUNNING  # type: ignore[union-attr]
    assert (await engine.get(late[0])).status is ExecutionStatus.HELD  # type: ignore[union-attr]

    again = await BulkRun(store, plan, retry_action(engine, "ops"), paced=False).run()  # re-run
    assert again.done == 0 and again.refused == {}  # nothing below the bound matches any more
    retried = [r.outcome for i in before for r in await store.history(i)]
    assert retried.count(StepStatus.RETRIED) == 7


async def test_refusals_are_counted_by_reason_and_pacing_gives_up_without_a_worker(store: Store) -> None:
    engine = Engine(store, [down], [ship()])
    ids = await held(engine, 4)
    await engine.retry(ids[0])  # no longer held when the action reaches it
    plan = await preview(store, ExecutionQuery(flow_id="ship"))
    run = BulkRun(store, plan, retry_action(engine, "ops"), paced=True, max_backlog=0, stall=0.05, batch=2)
    result = await run.run()
    assert result.done == 3 and result.refused == {"NOT_REPAIRABLE": 1}
    assert result.paused_seconds > 0  # it held back while nothing drained, then went on

    cancelled = await BulkRun(
        store,
        await preview(store, ExecutionQuery(flow_id="ship")),
        cancel_action(engine, "ops", "bulk"),
        paced=False,
    ).run()
    assert cancelled.done == 4


async def test_a_dry_migration_checks_each_and_a_real_one_moves_them(store: Store) -> None:
    engine = Engine(store, [down], [ship()])
    ids = await held(engine, 3)
    fixed = engine.flows.register(ship("1.0.1"))
    plan = await preview(store, HELD)
    seen: list[tuple[str, str | None]] = []
    dry = BulkRun(
        store,
        plan,
        migrate_action(engine, fixed, "ops", dry_run=True),
        paced=False,
        on_item=lambda i, r: seen.append((i, r)),
    )
    assert (await dry.run()).done == 3 and sorted(i for i, _ in seen) == sorted(ids)
    assert {(await engine.get(i)).flow_hash for i in ids} != {fixed.hash}  # type: ignore[union-attr]
    moved = await BulkRun(store, plan, migrate_action(engine, fixed, "ops", dry_run=False), paced=False).run()
    assert moved.done == 3
    assert {(await engine.get(i)).flow_hash for i in ids} == {fixed.hash}  # type: ignore[union-attr]
    again = await BulkRun(store, plan, migrate_action(engine, fixed, "ops", dry_run=False), paced=False).run()
    assert again.done == 0 and again.refused == {"ON_TARGET": 3}
