"""Retention on memory, SQLite and PostgreSQL: what a prune deletes, and what it never does.

Executions are written into the store as a year of use would leave them (finished long
ago, with history, takeover records, jobs and idempotency keys), then pruned with a
:class:`~flowmonkey.retention.Pruner` at a fixed "now".
"""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowmonkey import Engine, Flow, HandlerParams, Result, StepResult, handler
from flowmonkey.change import Change
from flowmonkey.errors import InvalidArgumentError
from flowmonkey.ids import new_id
from flowmonkey.model import (
    Execution,
    ExecutionStatus,
    Job,
    StepRecord,
    StepStatus,
    TriggerDefinition,
    TriggerFire,
    TriggerType,
    WebhookSignature,
)
from flowmonkey.retention import Pruner, PruneReport, RetentionPolicy
from flowmonkey.stores import ExecutionQuery, Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=90)
_ms = itertools.count(int(LONG_AGO.timestamp() * 1000))
S = ExecutionStatus


def execution(
    status: ExecutionStatus = S.COMPLETED, *, at: datetime = LONG_AGO, **fields: object
) -> Execution:
    """An execution created at ``at`` (its id sorts by that), finished then if ``status`` is."""
    created = at
    base: dict[str, object] = {
        "id": new_id(next(_ms) if at == LONG_AGO else int(at.timestamp() * 1000)),
        "flow_id": "orders",
        "flow_version": "1.0.0",
        "flow_hash": "abc123",
        "status": status,
        "current_step_id": None if status.is_terminal else "s0",
        "context": {"order": 7},
        "created_at": created,
        "updated_at": created,
        "completed_at": created if status.is_terminal else None,
    }
    base.update(fields)
    return Execution(**base)  # type: ignore[arg-type]


async def stored(store: Store, *executions: Execution) -> list[Execution]:
    for e in executions:
        await store.create_execution(e, now=e.created_at)
    return list(executions)


async def with_history(store: Store, e: Execution) -> None:
    """Two history records (the second a takeover) and a job, as a finished run leaves them."""
    for sequence, outcome in ((1, StepStatus.COMPLETED), (2, StepStatus.TAKEOVER)):
        record = StepRecord(
            execution_id=e.id,
            sequence=sequence,
            step_id="s0",
            attempt=1,
            outcome=outcome,
            started_at=e.created_at,
            finished_at=e.created_at,
        )
        assert await store.commit(Change(e, {"revision": e.revision + 1, "updated_at": e.created_at}, record))
        e.revision += 1
    job = Job(
        id=new_id(),
        execution_id=e.id,
        step_id="s0",
        attempt=1,
        type="export",
        created_at=e.created_at,
        updated_at=e.created_at,
    )
    await store.enqueue_job(job)


async def prune(store: Store, **policy: object) -> PruneReport:
    return await Pruner(store, RetentionPolicy(pause=0, **policy), clock=lambda: NOW).prune()  # type: ignore[arg-type]


async def ids_left(store: Store) -> set[str]:
    page = await store.list_executions(limit=1000)
    return {e.id for e in page.items}


async def test_old_finished_executions_go_with_their_history_takeovers_jobs_and_keys(
    any_store: Store,
) -> None:
    done, failed, cancelled = await stored(
        any_store,
        execution(
            S.COMPLETED, idempotency_key="order-7", idempotency_expires_at=LONG_AGO + timedelta(days=1)
        ),
        execution(S.FAILED),
        execution(S.CANCELLED),
    )
    for e in (done, failed, cancelled):
        await with_history(any_store, e)
    job = (await any_store.claim_jobs(owner="w", now=NOW, lease=timedelta(minutes=1), limit=10))[0]

    report = await prune(any_store)

    assert await ids_left(any_store) == set()
    assert report.executions == {
        ("orders", S.COMPLETED): 1,
        ("orders", S.FAILED): 1,
        ("orders", S.CANCELLED): 1,
    }
    for e in (done, failed, cancelled):
        assert await any_store.get_execution(e.id) is None
        assert await any_store.history(e.id) == []
    assert await any_store.get_job(job.id) is None
    # The expired key went with its execution: the same key starts a new one.
    again = execution(
        S.PENDING, at=NOW, idempotency_key="order-7", idempotency_expires_at=NOW + timedelta(days=1)
    )
    assert (await any_store.create_execution(again, now=NOW)).created
    assert await any_store.count_executions() == {**dict.fromkeys(S, 0), S.PENDING: 1}


async def test_active_executions_never_go_held_included(any_store: Store) -> None:
    active = await stored(
        any_store, *(execution(status) for status in (S.PENDING, S.RUNNING, S.WAITING, S.HELD))
    )
    await prune(any_store, older_than=timedelta(0))
    assert await ids_left(any_store) == {e.id for e in active}
    with pytest.raises(InvalidArgumentError, match="held is not one of completed, failed, cancelled"):
        RetentionPolicy(statuses=(S.COMPLETED, S.HELD))


async def test_a_finished_child_stays_while_its_parent_is_active(any_store: Store) -> None:
    waiting_parent, done_parent = await stored(any_store, execution(S.WAITING), execution(S.COMPLETED))
    kept, gone = await stored(
        any_store,
        execution(S.COMPLETED, parent_execution_id=waiting_parent.id, parent_step_id="call"),
        execution(S.FAILED, parent_execution_id=done_parent.id, parent_step_id="call"),
    )
    await prune(any_store)
    assert await ids_left(any_store) == {waiting_parent.id, kept.id}
    assert await any_store.get_execution(gone.id) is None


async def test_an_execution_whose_idempotency_key_is_live_stays_and_is_found_again(any_store: Store) -> None:
    live, forever = await stored(
        any_store,
        execution(S.COMPLETED, idempotency_key="k1", idempotency_expires_at=NOW + timedelta(hours=1)),
        # Sub-flow children carry keys that outlive any retention.
        execution(S.COMPLETED, idempotency_key="child", idempotency_expires_at=None),
    )
    await prune(any_store)
    assert await ids_left(any_store) == {live.id, forever.id}
    repeat = execution(
        S.PENDING, at=NOW, idempotency_key="k1", idempotency_expires_at=NOW + timedelta(hours=2)
    )
    found, created = await any_store.create_execution(repeat, now=NOW)
    assert not created and found.id == live.id


async def test_only_what_finished_before_the_retention_of_the_statuses_and_flow_asked(
    any_store: Store,
) -> None:
    recent = execution(S.COMPLETED, at=NOW - timedelta(days=29))
    old_other_flow = execution(S.COMPLETED, flow_id="invoices")
    old_failed, old_done = execution(S.FAILED), execution(S.COMPLETED)
    # Created long ago, finished yesterday: its age counts from when it finished.
    finished_late = execution(S.COMPLETED, completed_at=NOW - timedelta(days=1))
    await stored(any_store, recent, old_other_flow, old_failed, old_done, finished_late)

    report = await prune(any_store, statuses=(S.COMPLETED,), flow_id="orders")

    assert report.executions == {("orders", S.COMPLETED): 1}
    assert await ids_left(any_store) == {recent.id, old_other_flow.id, old_failed.id, finished_late.id}


async def test_a_dry_run_counts_by_flow_and_status_and_deletes_nothing(any_store: Store) -> None:
    executions = await stored(
        any_store, execution(S.COMPLETED), execution(S.COMPLETED), execution(S.FAILED, flow_id="invoices")
    )
    report = await Pruner(any_store, RetentionPolicy(), clock=lambda: NOW).prune(dry_run=True)
    assert report.dry_run and report.space is None
    assert report.to_dict()["executions"] == {
        "total": 3,
        "byFlow": [
            {"flow": "invoices", "status": "failed", "count": 1},
            {"flow": "orders", "status": "completed", "count": 2},
        ],
    }
    assert await ids_left(any_store) == {e.id for e in executions}


async def test_batches_are_bounded_in_key_order_and_an_interrupted_prune_continues(any_store: Store) -> None:
    old = await stored(any_store, *(execution(S.COMPLETED) for _ in range(7)))
    keep = await stored(any_store, execution(S.COMPLETED, idempotency_key="k", idempotency_expires_at=None))
    rests = 0

    async def interrupt(seconds: float) -> None:
        nonlocal rests
        rests += 1
        if rests == 2:
            raise KeyboardInterrupt

    policy = RetentionPolicy(batch_size=3)
    with pytest.raises(KeyboardInterrupt):
        await Pruner(any_store, policy, clock=lambda: NOW, sleep=interrupt).prune()
    left = await ids_left(any_store)
    assert left == {e.id for e in old[6:]} | {keep[0].id}  # two batches of three, oldest first

    report = await Pruner(any_store, policy, clock=lambda: NOW, sleep=interrupt).prune()
    assert report.execution_count == 1
    assert await ids_left(any_store) == {keep[0].id}


async def test_the_counts_stay_true_after_a_prune(any_store: Store) -> None:
    await stored(any_store, *(execution(S.COMPLETED) for _ in range(5)), execution(S.FAILED))
    await stored(any_store, execution(S.COMPLETED, at=NOW), execution(S.WAITING))
    await prune(any_store, batch_size=2)
    counts = await any_store.count_executions()
    assert counts == {**dict.fromkeys(S, 0), S.COMPLETED: 1, S.WAITING: 1}
    assert (await any_store.count_executions(ExecutionQuery(flow_id="orders")))[S.COMPLETED] == 1


def trigger(next_run_at: datetime | None) -> TriggerDefinition:
    return TriggerDefinition(
        id="nightly",
        type=TriggerType.SCHEDULE,
        flow_id="orders",
        config={"cron": "0 3 * * *"},
        created_at=LONG_AGO,
        updated_at=LONG_AGO,
        next_run_at=next_run_at,
    )


async def test_trigger_fires_go_by_age_and_slots_only_once_no_schedule_needs_them(any_store: Store) -> None:
    for i, fired_at in enumerate((LONG_AGO, LONG_AGO + timedelta(days=1), NOW - timedelta(days=2))):
        await any_store.record_fire(
            TriggerFire(id=f"f{i}", trigger_id="nightly", fired_at=fired_at, status="ok")
        )
    next_run = LONG_AGO + timedelta(days=1)  # a schedule that stopped firing: slots from here on stay
    await any_store.save_trigger(trigger(next_run))
    for slot in (LONG_AGO, next_run, NOW - timedelta(days=2)):
        assert await any_store.claim_slot(trigger_id="nightly", slot_at=slot)

    report = await prune(any_store)

    assert (report.trigger_fires, report.trigger_slots) == (2, 1)
    assert [f.id for f in await any_store.trigger_history("nightly")] == ["f2"]
    assert not await any_store.claim_slot(trigger_id="nightly", slot_at=next_run)  # still claimed
    assert await any_store.claim_slot(trigger_id="nightly", slot_at=LONG_AGO)  # forgotten
    assert (await any_store.get_trigger("nightly")) == trigger(next_run)


async def test_webhook_signatures_go_once_expired(any_store: Store) -> None:
    def seen(name: str, at: datetime) -> WebhookSignature:
        return WebhookSignature(
            trigger_id="hook", signature=name, seen_at=at, expires_at=at + timedelta(minutes=5)
        )

    # The fresh one first: a claim forgets the rows expired at its own time.
    for name, at in (("fresh", NOW - timedelta(minutes=1)), ("old", LONG_AGO)):
        assert await any_store.claim_signature(seen(name, at), abandoned_before=LONG_AGO) is None
        await any_store.settle_signature(trigger_id="hook", signature=name, execution_id="e1")
    report = await prune(any_store)
    assert report.signatures == 1
    assert await any_store.get_signature(trigger_id="hook", signature="old") is None
    assert await any_store.get_signature(trigger_id="hook", signature="fresh") is not None


async def test_definitions_stay(any_store: Store) -> None:
    from flowmonkey.model import build_flow

    flow = build_flow(
        {"id": "orders", "version": "1.0.0", "initialStepId": "a", "steps": {"a": {"type": "log"}}}
    )
    await any_store.save_definition(flow)
    await stored(any_store, execution(S.COMPLETED, flow_hash=flow.hash))
    await prune(any_store)
    assert await ids_left(any_store) == set()
    assert await any_store.get_definition(flow.hash) == flow


async def test_a_dry_run_counts_every_old_fire_and_deletes_none(any_store: Store) -> None:
    for i in range(5):
        await any_store.record_fire(
            TriggerFire(id=f"f{i}", trigger_id="nightly", fired_at=LONG_AGO, status="ok")
        )
    policy = RetentionPolicy(batch_size=2, pause=0)
    dry = await Pruner(any_store, policy, clock=lambda: NOW).prune(dry_run=True)
    assert dry.trigger_fires == 5 and len(await any_store.trigger_history("nightly")) == 5
    assert (await Pruner(any_store, policy, clock=lambda: NOW).prune()).trigger_fires == 5
    assert await any_store.trigger_history("nightly") == []


async def test_the_change_feed_forgets_what_went_and_what_is_older_than_the_retention(
    any_store: Store, store_url: str
) -> None:
    origin = (await any_store.feed()).cursor  # the empty feed's start
    gone, waiting, fresh = await stored(
        any_store,
        execution(S.COMPLETED),
        execution(S.WAITING),
        execution(S.RUNNING, at=NOW - timedelta(days=1)),
    )
    for e in (gone, waiting, fresh):
        await with_history(any_store, e)
    policy = RetentionPolicy(batch_size=3, pause=0)  # two batches: the head goes in bounded steps

    dry = await Pruner(any_store, policy, clock=lambda: NOW).prune(dry_run=True)
    assert len((await any_store.feed(after=origin)).entries) == 6
    report = await Pruner(any_store, policy, clock=lambda: NOW).prune()

    left = [
        (entry.record.execution_id, entry.record.sequence)
        for entry in (await any_store.feed(after=origin)).entries
    ]
    kept = [(waiting.id, 1), (waiting.id, 2)] if store_url.startswith("postgresql") else []
    assert left == [*kept, (fresh.id, 1), (fresh.id, 2)]  # a reader's old cursor reads on
    # The waiting execution's history stays whole; on PostgreSQL the feed is that history.
    assert [r.sequence for r in await any_store.history(waiting.id)] == [1, 2]
    assert report.feed_positions == dry.feed_positions == (0 if kept else 4)
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("SELECT count(*) FROM change_feed").fetchone() == (2,)


@pytest.mark.parametrize("store_url", ["sqlite", "memory"], indirect=True)
async def test_the_feed_of_many_pruned_executions_goes_in_batches_up_to_the_first_kept_record(
    any_store: Store,
) -> None:
    old = await stored(any_store, *(execution(S.COMPLETED) for _ in range(7)))
    for e in old:
        await with_history(any_store, e)
    recent = (await stored(any_store, execution(S.COMPLETED, at=NOW - timedelta(days=1))))[0]
    await with_history(any_store, recent)
    report = await Pruner(any_store, RetentionPolicy(batch_size=4, pause=0), clock=lambda: NOW).prune()
    assert report.execution_count == 7 and report.feed_positions == 14
    assert [entry.record.execution_id for entry in (await any_store.feed()).entries] == [recent.id] * 2


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_sqlite_gives_the_space_back(any_store: Store, store_url: str) -> None:
    path = Path(store_url.removeprefix("sqlite:///"))
    await stored(any_store, *(execution(S.COMPLETED, context={"blob": "x" * 20_000}) for _ in range(200)))
    report = await prune(any_store)
    assert report.execution_count == 200
    assert report.space is not None and "given back (incremental vacuum)" in report.space
    with sqlite3.connect(path) as conn:
        free, pages = (
            conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("freelist_count", "page_count")
        )
    assert free == 0 and pages * 4096 < 1_000_000, (free, pages)


async def test_a_pruned_map_parent_takes_its_fans_and_join_rows_along(any_store: Store) -> None:
    @handler("double")
    async def double(params: HandlerParams) -> StepResult:
        return Result.success(params.input * 2)

    step = {"type": "double", "input": {"type": "key", "key": "item"}, "outputKey": "r"}
    child = {"id": "double-it", "initialStepId": "d", "steps": {"d": step}}
    mapper = {
        "id": "mapper",
        "initialStepId": "m",
        "steps": {"m": {"type": "map", "flow": "double-it", "input": {"type": "key", "key": "xs"}}},
    }
    engine = Engine(
        any_store, [double], [Flow.from_dict(child), Flow.from_dict(mapper)], clock=lambda: LONG_AGO
    )
    parent, _ = await engine.create("mapper", {"xs": [1, 2, 3]})
    done = await engine.run(parent.id)
    assert done.status is S.COMPLETED
    (fan,) = await any_store.fans_of(parent.id)
    children = [c.id for _, c in await any_store.fan_children(fan.fan_id)]
    assert len(children) == 3

    await prune(any_store)

    assert await any_store.get_execution(parent.id) is None
    assert await any_store.fans_of(parent.id) == []
    assert await any_store.get_fan(fan.fan_id) is None
    assert await any_store.fan_children(fan.fan_id) == []
