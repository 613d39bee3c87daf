"""The Store conformance suite: every test runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowmonkey.change import Change
from flowmonkey.errors import StoreError
from flowmonkey.ids import new_id
from flowmonkey.model import (
    Cancellation,
    Execution,
    ExecutionError,
    ExecutionStatus,
    Flow,
    Job,
    JobStatus,
    StepRecord,
    StepStatus,
    TimeoutConfig,
    TriggerDefinition,
    TriggerFire,
    TriggerType,
    WaitKind,
)
from flowmonkey.stores import ExecutionQuery, Store, open_store

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
_ms = itertools.count(int(T0.timestamp() * 1000))


def execution(**fields: object) -> Execution:
    """A pending execution; each call's id sorts after the previous one's."""
    base: dict[str, object] = {
        "id": new_id(next(_ms)),
        "flow_id": "orders",
        "flow_version": "1.0.0",
        "flow_hash": "abc123",
        "status": ExecutionStatus.PENDING,
        "current_step_id": "s0",
        "context": {"order": {"id": 7, "items": [1, 2]}},
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(fields)
    return Execution(**base)  # type: ignore[arg-type]


def record(e: Execution, sequence: int, step_id: str = "s0") -> StepRecord:
    return StepRecord(
        execution_id=e.id,
        sequence=sequence,
        step_id=step_id,
        attempt=1,
        outcome=StepStatus.COMPLETED,
        started_at=T0,
        finished_at=T0 + timedelta(milliseconds=3),
        input={"in": 1},
        output={"out": [1, "two"]},
        next_step_id="s1",
    )


async def step(store: Store, e: Execution, *, step_id: str = "s0", **fields: Any) -> bool:
    """Commit one step of ``e`` the way the engine does: ``fields`` change, the revision
    and the step count go up, one record is appended; ``e`` changes only if it won."""
    fields.update(revision=e.revision + 1, step_count=e.step_count + 1)
    change = Change(e, fields, record(e, e.revision + 1, step_id))
    if not await store.commit(change):
        return False
    change.apply()
    return True


def test_every_store_satisfies_the_protocol(any_store: Store) -> None:
    assert isinstance(any_store, Store)
    assert "://" in any_store.url


# -- executions ---------------------------------------------------------------------------


async def test_every_execution_field_survives_a_round_trip(any_store: Store) -> None:
    full = execution(
        status=ExecutionStatus.WAITING,
        revision=4,
        step_count=3,
        attempt=2,
        completed_at=T0 + timedelta(hours=1),
        wake_at=T0 + timedelta(minutes=5),
        wait_kind=WaitKind.RETRY,
        wait_reason="retry 1/3",
        waiting_since=T0 + timedelta(seconds=1),
        timeout=TimeoutConfig(execution=timedelta(hours=2), wait=timedelta(days=7, milliseconds=250)),
        timeout_at=T0 + timedelta(hours=2),
        error=ExecutionError(code="HTTP_ERROR", message="502", step_id="s0", details={"status": 502}),
        cancellation=Cancellation(source="user", reason="asked", at=T0),
        idempotency_key="order-7",
        idempotency_expires_at=T0 + timedelta(days=1),
        tenant_id="acme",
        parent_execution_id="01PARENT",
        parent_step_id="spawn",
        metadata={"owner": "ops", "tags": ["a"]},
        context={"unicode": "héllo ✓", "n": 1.5, "none": None, "nested": {"list": [{"x": True}]}},
    )
    created = await any_store.create_execution(full, now=T0)
    assert created.created
    loaded = await any_store.get_execution(full.id)
    assert loaded == full


async def test_an_unknown_execution_is_none(any_store: Store) -> None:
    assert await any_store.get_execution("nope") is None
    assert await any_store.history("nope") == []


async def test_mutating_returned_or_given_objects_never_changes_the_store(any_store: Store) -> None:
    e = execution()
    created = (await any_store.create_execution(e, now=T0)).execution
    e.context["order"]["id"] = 99
    created.context["order"]["items"].append(3)
    loaded = await any_store.get_execution(e.id)
    assert loaded is not None
    loaded.metadata["x"] = 1
    again = await any_store.get_execution(e.id)
    assert again is not None
    assert again.context == {"order": {"id": 7, "items": [1, 2]}}
    assert again.metadata == {}


async def test_commit_is_compare_and_set(any_store: Store) -> None:
    e = execution()
    await any_store.create_execution(e, now=T0)
    assert await step(any_store, e, status=ExecutionStatus.RUNNING)
    stale = await any_store.get_execution(e.id)
    assert stale is not None and stale.revision == 1 and stale.status is ExecutionStatus.RUNNING

    assert await step(any_store, e, step_id="s1", context={**e.context, "won": True})
    assert not await step(any_store, stale, step_id="s1", context={**stale.context, "lost": True})
    assert stale.revision == 1 and "lost" not in stale.context  # a lost commit changes nothing

    stored = await any_store.get_execution(e.id)
    assert stored is not None
    assert stored.revision == 2 and "won" in stored.context and "lost" not in stored.context
    history = await any_store.history(e.id)
    assert [(r.sequence, r.step_id) for r in history] == [(1, "s0"), (2, "s1")]
    assert history[0] == record(e, 1)


async def test_each_commit_stores_exactly_the_committed_state(any_store: Store) -> None:
    e = execution(timeout=TimeoutConfig(execution=timedelta(hours=1)), timeout_at=T0 + timedelta(hours=1))
    await any_store.create_execution(e, now=T0)
    changes: list[dict[str, Any]] = [
        {"status": ExecutionStatus.RUNNING, "context": {"a": 1}},
        {"current_step_id": "s1", "updated_at": T0 + timedelta(seconds=1)},
        {"status": ExecutionStatus.WAITING, "wake_at": T0, "wait_kind": WaitKind.HANDLER, "wait_reason": "r"},
        {"status": ExecutionStatus.RUNNING, "wake_at": None, "wait_kind": None, "wait_reason": None},
        {"metadata": {"m": [1]}, "attempt": 2, "timeout_at": None},
        {
            "error": ExecutionError(code="X", message="y"),
            "status": ExecutionStatus.FAILED,
            "completed_at": T0,
        },
    ]
    for fields in changes:
        assert await step(any_store, e, **fields)
        assert await any_store.get_execution(e.id) == e
    counts = await any_store.count_executions()
    assert counts[ExecutionStatus.FAILED] == 1 and sum(counts.values()) == 1


async def test_concurrent_commits_at_one_revision_have_exactly_one_winner(any_store: Store) -> None:
    e = execution()
    await any_store.create_execution(e, now=T0)
    copies = [replace(e) for _ in range(10)]
    outcomes = await asyncio.gather(
        *(step(any_store, c, context={"writer": i}) for i, c in enumerate(copies))
    )
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    stored = await any_store.get_execution(e.id)
    assert stored is not None and stored.context == {"writer": winner} and stored.revision == 1
    assert len(await any_store.history(e.id)) == 1


async def test_one_conflict_never_fails_its_neighbours(any_store: Store) -> None:
    executions = [execution() for _ in range(30)]
    for e in executions:
        await any_store.create_execution(e, now=T0)
    stale = replace(executions[0], revision=5)
    results = await asyncio.gather(step(any_store, stale), *(step(any_store, e) for e in executions[1:]))
    assert results == [False] + [True] * 29
    for e in executions[1:]:
        assert [r.sequence for r in await any_store.history(e.id)] == [1]


async def test_a_commit_without_a_record_leaves_history_alone(any_store: Store) -> None:
    e = execution()
    await any_store.create_execution(e, now=T0)
    assert await any_store.commit(Change(e, {"revision": 1, "wake_at": T0}))
    assert await any_store.history(e.id) == []
    stored = await any_store.get_execution(e.id)
    assert stored is not None and (stored.revision, stored.wake_at) == (1, T0)


async def test_commit_never_writes_the_lease(any_store: Store) -> None:
    e = execution()
    await any_store.create_execution(e, now=T0)
    [(claimed, _, _)] = await any_store.claim(owner="w1", now=T0, lease=timedelta(seconds=30), limit=5)
    claimed.lease_owner, claimed.lease_expires_at = "intruder", None
    assert await step(any_store, claimed)
    stored = await any_store.get_execution(e.id)
    assert stored is not None
    assert (stored.lease_owner, stored.lease_expires_at) == ("w1", T0 + timedelta(seconds=30))


# -- idempotency --------------------------------------------------------------------------


async def test_twenty_concurrent_creates_with_one_key_create_exactly_one(any_store: Store) -> None:
    expires = T0 + timedelta(hours=1)
    attempts = [execution(idempotency_key="k1", idempotency_expires_at=expires) for _ in range(20)]
    results = await asyncio.gather(*(any_store.create_execution(a, now=T0) for a in attempts))
    assert sum(r.created for r in results) == 1
    [winner] = [r.execution.id for r in results if r.created]
    assert {r.execution.id for r in results} == {winner}
    counts = await any_store.count_executions()
    assert sum(counts.values()) == 1


async def test_idempotency_keys_are_scoped_and_expire(any_store: Store) -> None:
    expires = T0 + timedelta(hours=1)
    first = await any_store.create_execution(
        execution(idempotency_key="k", idempotency_expires_at=expires), now=T0
    )
    other_tenant = await any_store.create_execution(
        execution(idempotency_key="k", idempotency_expires_at=expires, tenant_id="t2"), now=T0
    )
    other_flow = await any_store.create_execution(
        execution(idempotency_key="k", idempotency_expires_at=expires, flow_id="refunds"), now=T0
    )
    assert first.created and other_tenant.created and other_flow.created
    hit = await any_store.create_execution(
        execution(idempotency_key="k", idempotency_expires_at=expires), now=T0 + timedelta(minutes=59)
    )
    assert not hit.created and hit.execution.id == first.execution.id
    later = T0 + timedelta(hours=2)
    taken_over = await any_store.create_execution(
        execution(idempotency_key="k", idempotency_expires_at=later + timedelta(hours=1)), now=later
    )
    assert taken_over.created and taken_over.execution.id != first.execution.id


# -- definitions --------------------------------------------------------------------------

FLOW = {
    "id": "orders",
    "version": "1.2.0",
    "initialStepId": "a",
    "timeout": "1h",
    "steps": {
        "a": {"type": "echo", "outputKey": "x", "retry": {"maxAttempts": 3, "backoff": "1s"}},
        "b": {"type": "echo", "input": {"type": "key", "key": "x"}, "timeout": "30s"},
    },
}


async def test_definitions_are_kept_by_hash(any_store: Store) -> None:
    flow = Flow.from_dict(FLOW)
    await any_store.save_definition(flow)
    await any_store.save_definition(flow)
    loaded = await any_store.get_definition(flow.hash)
    assert loaded is not None
    assert loaded.hash == flow.hash and loaded == flow
    assert await any_store.get_definition("0" * 64) is None


# -- runtime: wakes, timeouts, claims -----------------------------------------------------


async def test_next_wake_at_and_timed_out_consider_active_executions_only(any_store: Store) -> None:
    assert await any_store.next_wake_at() is None
    waiting = execution(status=ExecutionStatus.WAITING, wake_at=T0 + timedelta(minutes=10))
    timing_out = execution(status=ExecutionStatus.RUNNING, timeout_at=T0 + timedelta(minutes=5))
    finished = execution(status=ExecutionStatus.COMPLETED, timeout_at=T0, wake_at=T0)
    pending_with_stale_wake = execution(wake_at=T0)  # wake_at only counts while waiting
    for e in (waiting, timing_out, finished, pending_with_stale_wake):
        await any_store.create_execution(e, now=T0)
    assert await any_store.next_wake_at() == T0 + timedelta(minutes=5)
    assert await any_store.timed_out(now=T0 + timedelta(minutes=4), limit=10) == []
    due = await any_store.timed_out(now=T0 + timedelta(minutes=5), limit=10)
    assert [e.id for e in due] == [timing_out.id]


async def test_next_wake_at_includes_when_other_owners_leases_lapse(any_store: Store) -> None:
    lease = timedelta(seconds=30)
    running = execution(status=ExecutionStatus.RUNNING)
    due = execution(status=ExecutionStatus.WAITING, wake_at=T0)
    for e in (running, due):
        await any_store.create_execution(e, now=T0)
    await any_store.claim(owner="crashed", now=T0, lease=lease, limit=1)  # the running one
    assert await any_store.next_wake_at() == T0  # the due wait nobody holds
    await any_store.claim(owner="mine", now=T0 + timedelta(seconds=10), lease=lease, limit=1)
    # Both held now: claimable again when each lease lapses, the earlier first.
    assert await any_store.next_wake_at() == T0 + lease
    assert await any_store.next_wake_at(exclude_owner="crashed") == T0 + timedelta(seconds=40)
    assert await any_store.next_wake_at(exclude_owner="mine") == T0 + lease
    await any_store.release(owner="crashed", execution_ids=[running.id])
    # An unleased pending or running execution is the claim's business, not a wake.
    assert await any_store.next_wake_at(exclude_owner="mine") is None


async def test_a_leased_wait_counts_from_the_later_of_its_wake_and_its_lapse(any_store: Store) -> None:
    timer, for_a_person = execution(), execution()
    for e in (timer, for_a_person):
        await any_store.create_execution(e, now=T0)
    await any_store.claim(owner="w", now=T0, lease=timedelta(seconds=30), limit=10)
    # Both steps commit a wait while "w" still holds them; one waits for a person.
    waiting = ExecutionStatus.WAITING
    assert await step(any_store, timer, status=waiting, wake_at=T0 + timedelta(seconds=10))
    assert await step(any_store, for_a_person, status=waiting)
    assert await any_store.next_wake_at() == T0 + timedelta(seconds=30)
    await any_store.release(owner="w", execution_ids=[timer.id, for_a_person.id])
    assert await any_store.next_wake_at() == timer.wake_at


async def test_claim_leases_runnable_executions(any_store: Store) -> None:
    pending = execution()
    due = execution(status=ExecutionStatus.WAITING, wake_at=T0)
    not_due = execution(status=ExecutionStatus.WAITING, wake_at=T0 + timedelta(hours=1))
    done = execution(status=ExecutionStatus.COMPLETED)
    for e in (pending, due, not_due, done):
        await any_store.create_execution(e, now=T0)
    lease = timedelta(seconds=30)
    claimed = [claim.execution for claim in await any_store.claim(owner="w1", now=T0, lease=lease, limit=10)]
    assert [e.id for e in claimed] == [pending.id, due.id]
    assert all(e.lease_owner == "w1" and e.lease_expires_at == T0 + lease for e in claimed)
    assert await any_store.claim(owner="w2", now=T0 + timedelta(seconds=29), lease=lease, limit=10) == []

    assert await any_store.renew_leases(owner="w2", execution_ids=[pending.id], until=T0) == []
    until = T0 + timedelta(minutes=1)
    assert await any_store.renew_leases(owner="w1", execution_ids=[pending.id, "nope"], until=until) == [
        pending.id
    ]
    lapsed = await any_store.claim(owner="w2", now=T0 + timedelta(seconds=31), lease=lease, limit=10)
    # w1 never released it: a takeover, naming whom it was taken from and when it lapsed.
    assert [(c.execution.id, c.taken_from, c.lapsed_at) for c in lapsed] == [(due.id, "w1", T0 + lease)]

    await any_store.release(owner="w2", execution_ids=[pending.id])  # not w2's: untouched
    await any_store.release(owner="w1", execution_ids=[pending.id])
    freed = await any_store.claim(owner="w3", now=T0 + timedelta(seconds=31), lease=lease, limit=10)
    assert [(c.execution.id, c.taken_from, c.lapsed_at) for c in freed] == [(pending.id, None, None)]


async def test_a_commit_that_ends_an_execution_gives_its_lease_back(any_store: Store) -> None:
    # The runtime releases nothing after a last step: the ending commit cleared the lease
    # (one row update and one statement less per execution). Any other commit keeps it.
    ending, also_ending, going_on = execution(), execution(), execution()
    for e in (ending, also_ending, going_on):
        await any_store.create_execution(e, now=T0)
    lease = timedelta(seconds=30)
    claims = await any_store.claim(owner="w1", now=T0, lease=lease, limit=10)
    assert sorted(c.execution.id for c in claims) == sorted([ending.id, also_ending.id, going_on.id])
    running = {"status": ExecutionStatus.RUNNING, "revision": 1, "current_step_id": "s1"}
    ended = {"status": ExecutionStatus.COMPLETED, "revision": 1, "completed_at": T0}
    outcomes = await asyncio.gather(  # in one batch where the store batches (two of one shape)
        any_store.commit(Change(going_on, running, record(going_on, 1))),
        any_store.commit(Change(ending, ended, record(ending, 1))),
        any_store.commit(Change(also_ending, ended, record(also_ending, 1))),
    )
    assert list(outcomes) == [True, True, True]
    kept = await any_store.get_execution(going_on.id)
    assert kept is not None and (kept.lease_owner, kept.lease_expires_at) == ("w1", T0 + lease)
    for e in (ending, also_ending):
        gone = await any_store.get_execution(e.id)
        assert gone is not None and gone.status is ExecutionStatus.COMPLETED
        assert (gone.lease_owner, gone.lease_expires_at) == (None, None)
    # A commit that does not write the status (SQLite writes only what changed) keeps it.
    kept_on = await any_store.commit(Change(kept, {"revision": 2, "context": {"n": 1}}, record(kept, 2)))
    again = await any_store.get_execution(going_on.id)
    assert kept_on and again is not None and again.lease_owner == "w1"


async def test_two_concurrent_claimers_never_share_an_execution(any_store: Store) -> None:
    executions = [execution() for _ in range(40)]
    for e in executions:
        await any_store.create_execution(e, now=T0)
    lease = timedelta(seconds=30)
    first, second = await asyncio.gather(
        *(any_store.claim(owner=o, now=T0, lease=lease, limit=25) for o in ("a", "b"))
    )
    a, b = {c.execution.id for c in first}, {c.execution.id for c in second}
    assert not a & b
    assert a | b == {e.id for e in executions}


# -- listing and counting -----------------------------------------------------------------


async def test_listing_pages_newest_first_with_filters(any_store: Store) -> None:
    made = []
    for i in range(23):
        e = execution(
            flow_id="orders" if i % 2 else "refunds",
            status=ExecutionStatus.COMPLETED if i % 3 == 0 else ExecutionStatus.PENDING,
            tenant_id="acme" if i < 5 else None,
            parent_execution_id="P1" if i in (4, 9) else None,
            created_at=T0 + timedelta(minutes=i),
        )
        await any_store.create_execution(e, now=T0)
        made.append(e)
    newest_first = [e.id for e in reversed(made)]

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page = await any_store.list_executions(limit=10, cursor=cursor)
        seen += [e.id for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == newest_first

    async def ids(query: ExecutionQuery) -> list[str]:
        return [e.id for e in (await any_store.list_executions(query, limit=100)).items]

    assert await ids(ExecutionQuery(flow_id="orders")) == [
        e.id for e in reversed(made) if e.flow_id == "orders"
    ]
    completed = ExecutionQuery(statuses=(ExecutionStatus.COMPLETED,), flow_id="refunds")
    assert await ids(completed) == [e.id for e in reversed(made[::6])]
    assert await ids(ExecutionQuery(tenant_id="acme")) == newest_first[-5:]
    assert await ids(ExecutionQuery(parent_execution_id="P1")) == [made[9].id, made[4].id]
    window = ExecutionQuery(created_after=T0 + timedelta(minutes=3), created_before=T0 + timedelta(minutes=6))
    assert await ids(window) == [made[5].id, made[4].id, made[3].id]
    fragment = made[7].id[-8:].lower()
    assert await ids(ExecutionQuery(id_contains=fragment)) == [made[7].id]
    assert await ids(ExecutionQuery(id_contains="%")) == []

    counts = await any_store.count_executions()
    assert counts[ExecutionStatus.COMPLETED] == 8 and counts[ExecutionStatus.PENDING] == 15
    assert counts[ExecutionStatus.CANCELLED] == 0 and set(counts) == set(ExecutionStatus)
    orders = await any_store.count_executions(ExecutionQuery(flow_id="orders"))
    assert sum(orders.values()) == 11
    done_orders = ExecutionQuery(flow_id="orders", statuses=(ExecutionStatus.COMPLETED,))
    assert (await any_store.count_executions(done_orders))[ExecutionStatus.COMPLETED] == 4
    acme = await any_store.count_executions(ExecutionQuery(tenant_id="acme"))
    assert sum(acme.values()) == 5 and acme[ExecutionStatus.COMPLETED] == 2


async def test_a_filtered_page_has_no_cursor_when_nothing_follows(any_store: Store) -> None:
    for _ in range(3):
        await any_store.create_execution(execution(), now=T0)
    page = await any_store.list_executions(limit=3)
    assert len(page.items) == 3 and page.next_cursor is None
    first = await any_store.list_executions(limit=2)
    assert first.next_cursor == first.items[-1].id


# -- triggers -----------------------------------------------------------------------------


def trigger(trigger_id: str = "nightly", **fields: object) -> TriggerDefinition:
    base: dict[str, object] = {
        "id": trigger_id,
        "type": TriggerType.SCHEDULE,
        "flow_id": "orders",
        "config": {"cron": "0 2 * * *", "timezone": "Europe/Paris"},
        "created_at": T0,
        "updated_at": T0,
        "next_run_at": T0 + timedelta(hours=3),
    }
    base.update(fields)
    return TriggerDefinition(**base)  # type: ignore[arg-type]


async def test_triggers_are_saved_replaced_listed_and_deleted(any_store: Store) -> None:
    t = trigger()
    await any_store.save_trigger(t)
    await any_store.save_trigger(trigger("hook", type=TriggerType.HTTP, enabled=False, source="flows/a.yaml"))
    assert await any_store.get_trigger("nightly") == t
    changed = replace(t, enabled=False, last_status="ok", last_fired_at=T0)
    await any_store.save_trigger(changed)
    assert await any_store.get_trigger("nightly") == changed
    assert [x.id for x in await any_store.list_triggers()] == ["hook", "nightly"]
    assert await any_store.delete_trigger("hook")
    assert not await any_store.delete_trigger("hook")
    assert await any_store.get_trigger("hook") is None


async def test_a_schedule_slot_is_claimed_once(any_store: Store) -> None:
    slot = T0 + timedelta(hours=1)
    results = await asyncio.gather(
        *(any_store.claim_slot(trigger_id="nightly", slot_at=slot) for _ in range(10))
    )
    assert results.count(True) == 1
    assert await any_store.claim_slot(trigger_id="other", slot_at=slot)
    assert await any_store.claim_slot(trigger_id="nightly", slot_at=slot + timedelta(days=1))


async def test_fire_history_is_newest_first(any_store: Store) -> None:
    fires = [
        TriggerFire(
            id=f"f{i}",
            trigger_id="nightly",
            fired_at=T0 + timedelta(minutes=i),
            status="ok" if i % 2 else "failed",
            duration_ms=1.5 * i,
            execution_id=f"e{i}" if i % 2 else None,
            error=None if i % 2 else "boom",
            slot_at=T0 if i == 0 else None,
        )
        for i in range(5)
    ]
    for fire in fires:
        await any_store.record_fire(fire)
    await any_store.record_fire(replace(fires[0], id="other", trigger_id="other"))
    assert await any_store.trigger_history("nightly") == list(reversed(fires))
    assert await any_store.trigger_history("nightly", limit=2) == [fires[4], fires[3]]


# -- jobs ---------------------------------------------------------------------------------


def job(job_id: str = "j1", **fields: object) -> Job:
    base: dict[str, object] = {
        "id": job_id,
        "execution_id": "e1",
        "step_id": "train",
        "attempt": 1,
        "type": "long-task",
        "input": {"n": 3},
        "created_at": T0,
        "updated_at": T0,
    }
    base.update(fields)
    return Job(**base)  # type: ignore[arg-type]


async def test_jobs_are_deduplicated_claimed_fenced_and_finished(any_store: Store) -> None:
    first, created = await any_store.enqueue_job(job())
    assert created and first == job()
    again, created = await any_store.enqueue_job(job("j2"))
    assert not created and again.id == "j1"
    await any_store.enqueue_job(job("j3", attempt=2, created_at=T0 + timedelta(seconds=1)))

    lease = timedelta(seconds=10)
    claimed = await any_store.claim_jobs(owner="r1", now=T0, lease=lease, limit=1)
    assert [(j.id, j.fence, j.owner, j.status) for j in claimed] == [("j1", 1, "r1", JobStatus.RUNNING)]
    assert [j.id for j in await any_store.claim_jobs(owner="r2", now=T0, lease=lease, limit=5)] == ["j3"]
    assert await any_store.finish_job(
        job_id="j3", fence=1, status=JobStatus.FAILED, error={"code": "X"}, now=T0
    )
    assert await any_store.claim_jobs(owner="r2", now=T0 + timedelta(seconds=5), lease=lease, limit=5) == []

    assert await any_store.heartbeat_job(
        job_id="j1", fence=1, until=T0 + timedelta(seconds=20), checkpoint=[1]
    )
    assert await any_store.claim_jobs(owner="r2", now=T0 + timedelta(seconds=15), lease=lease, limit=1) == []
    [stolen] = await any_store.claim_jobs(owner="r2", now=T0 + timedelta(seconds=21), lease=lease, limit=1)
    assert (stolen.id, stolen.fence, stolen.checkpoint) == ("j1", 2, [1])

    assert not await any_store.heartbeat_job(job_id="j1", fence=1, until=T0 + timedelta(minutes=5))
    assert not await any_store.finish_job(job_id="j1", fence=1, status=JobStatus.COMPLETED, now=T0)
    done = T0 + timedelta(seconds=22)
    assert await any_store.finish_job(
        job_id="j1", fence=2, status=JobStatus.COMPLETED, result={"model": "ok"}, now=done
    )
    finished = await any_store.get_job("j1")
    assert finished is not None
    assert (finished.status, finished.result, finished.updated_at) == (
        JobStatus.COMPLETED,
        {"model": "ok"},
        done,
    )
    assert not await any_store.finish_job(job_id="j1", fence=2, status=JobStatus.FAILED, now=done)
    assert await any_store.get_job("nope") is None


# -- errors -------------------------------------------------------------------------------


async def test_an_unwritable_sqlite_path_is_a_store_error_naming_the_url(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker}/sub/flowmonkey.db"
    with pytest.raises(StoreError, match="cannot open the SQLite database") as caught:
        async with open_store(url):
            pass
    assert url in str(caught.value)
    assert caught.value.__cause__ is not None


async def test_an_unreachable_postgres_is_a_store_error_with_the_password_masked() -> None:
    url = "postgresql://app:s3cret@127.0.0.1:1/db"
    store = open_store(url, connect_timeout=2)
    assert store.url == "postgresql://app:***@127.0.0.1:1/db"
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as caught:
        await store.open()
    assert "s3cret" not in str(caught.value) and "app:***@127.0.0.1:1/db" in str(caught.value)
    assert caught.value.__cause__ is not None


def test_bad_sqlite_options_are_rejected_clearly() -> None:
    with pytest.raises(StoreError, match="synchronous='sometimes'"):
        open_store("sqlite:///x.db?synchronous=sometimes")
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("mysql://x")


async def test_a_store_that_is_not_open_says_so(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(StoreError, match="not open"):
        await store.get_execution("x")
