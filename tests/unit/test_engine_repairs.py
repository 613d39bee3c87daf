"""Fix and continue: retry from the failed step, hold instead of fail, skip, fail, fork,
migrate. Collected again on SQLite and PostgreSQL by tests/integration/test_engine_on_stores.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from flowmonkey import (
    Engine,
    ErrorCode,
    ExecutionStatus,
    Flow,
    HandlerParams,
    NotMigratableError,
    NotRepairableError,
    Result,
    ResumeDataError,
    StepResult,
    StepStatus,
    Store,
    TimeoutConfig,
    handler,
)


class Counter:
    """Handlers of one test: ``charge`` counts its calls; ``flaky`` fails while broken."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.broken = True

    def handlers(self) -> list[Any]:
        @handler("charge")
        async def charge(params: HandlerParams) -> StepResult:
            self.calls[params.step.id] = self.calls.get(params.step.id, 0) + 1
            return Result.success({"charged": params.idempotency_key})

        @handler("flaky")
        async def flaky(params: HandlerParams) -> StepResult:
            self.calls[params.step.id] = self.calls.get(params.step.id, 0) + 1
            if self.broken:
                return Result.failure("HTTP_ERROR", "the shipping API answered 503")
            return Result.success({"shipped": True})

        return [charge, flaky]


def order(**ship: Any) -> Flow:
    return Flow.from_dict(
        {
            "id": "order",
            "version": "1.0.0",
            "initialStepId": "charge",
            "steps": {
                "charge": {"type": "charge", "outputKey": "payment", "transitions": {"onSuccess": "ship"}},
                "ship": {
                    "type": "flaky",
                    "outputKey": "shipment",
                    "errorKey": "problem",
                    **ship,
                    "transitions": {"onSuccess": "thank", **ship.get("transitions", {})},
                },
                "thank": {"type": "charge", "outputKey": "thanks"},
            },
        }
    )


async def failed_order(store: Store, counter: Counter, **ship: Any) -> tuple[Engine, str]:
    engine = Engine(store, counter.handlers(), [order(**ship)])
    execution, _ = await engine.create("order", {"order": 7})
    done = await engine.run(execution.id, simulate_time=True)
    return engine, done.id


async def test_retry_continues_from_the_failed_step_without_repeating_what_succeeded(store: Store) -> None:
    counter = Counter()
    engine, execution_id = await failed_order(store, counter)
    failed = await engine.get(execution_id)
    assert failed is not None and failed.status is ExecutionStatus.FAILED and "problem" in failed.context
    counter.broken = False  # the operator fixed the shipping API
    await engine.retry(execution_id, by="ops@example.com")
    done = await engine.run(execution_id)
    assert done.status is ExecutionStatus.COMPLETED and done.id == execution_id
    assert counter.calls == {"charge": 1, "ship": 2, "thank": 1}  # the card was charged once
    assert "problem" not in done.context  # the context as it was when ship started
    assert done.context["payment"] == failed.context["payment"]
    history = await store.history(execution_id)
    steps = [(r.step_id, r.outcome) for r in history]
    assert steps == [
        ("charge", StepStatus.COMPLETED),
        ("ship", StepStatus.FAILED),
        ("ship", StepStatus.RETRIED),
        ("ship", StepStatus.COMPLETED),
        ("thank", StepStatus.COMPLETED),
    ]
    assert history[2].note == "retried by ops@example.com"
    # a new visit at a first attempt: a new idempotency key for the handler, the retry policy anew
    assert history[3].attempt == 1 and history[3].visit != history[1].visit


async def test_a_retried_held_step_gets_its_retry_policy_again(store: Store) -> None:
    counter = Counter()
    engine, execution_id = await failed_order(
        store, counter, retry={"maxAttempts": 2, "backoff": 0}, onExhausted="hold"
    )
    await engine.retry(execution_id)  # the operator retries too early: the API still fails
    again = await engine.run(execution_id, simulate_time=True)
    assert again.status is ExecutionStatus.HELD and counter.calls["ship"] == 4
    outcomes = [r.outcome for r in await store.history(execution_id)]
    assert outcomes.count(StepStatus.RETRY) == 2 and outcomes.count(StepStatus.HELD) == 2


async def test_two_retries_racing_continue_it_once(store: Store) -> None:
    counter = Counter()
    engine, execution_id = await failed_order(store, counter)
    outcomes = await asyncio.gather(*(engine.retry(execution_id) for _ in range(5)), return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, NotRepairableError) for o in outcomes if isinstance(o, BaseException))
    history = await store.history(execution_id)
    assert [r.outcome for r in history].count(StepStatus.RETRIED) == 1


async def test_a_completed_execution_cannot_be_retried(store: Store) -> None:
    counter = Counter()
    counter.broken = False
    engine, execution_id = await failed_order(store, counter)
    with pytest.raises(NotRepairableError, match="it is completed"):
        await engine.retry(execution_id)


async def test_a_step_whose_retries_run_out_holds_and_the_operator_retries_it(store: Store) -> None:
    counter = Counter()
    engine, execution_id = await failed_order(
        store, counter, retry={"maxAttempts": 2, "backoff": 0}, onExhausted="hold"
    )
    held = await engine.get(execution_id)
    assert held is not None and held.status is ExecutionStatus.HELD and held.current_step_id == "ship"
    assert held.error is not None and held.error.code == "HTTP_ERROR" and "problem" not in held.context
    assert counter.calls["ship"] == 2
    assert (await engine.run(execution_id)).status is ExecutionStatus.HELD  # nothing runs a held step
    counter.broken = False
    await engine.retry(execution_id)
    done = await engine.run(execution_id)
    assert done.status is ExecutionStatus.COMPLETED and counter.calls == {"charge": 1, "ship": 3, "thank": 1}
    outcomes = [r.outcome for r in await store.history(execution_id)]
    assert outcomes.count(StepStatus.HELD) == 1 and outcomes.count(StepStatus.RETRY) == 1


async def test_a_held_step_is_skipped_with_an_output_the_schema_accepts(store: Store) -> None:
    counter = Counter()
    schema = {"type": "object", "required": ["shipped"], "properties": {"shipped": {"type": "boolean"}}}
    engine, execution_id = await failed_order(store, counter, onExhausted="hold", outputSchema=schema)
    with pytest.raises(ResumeDataError, match=r"\$\.shipped: 'yes' is not of type 'boolean'"):
        await engine.skip(execution_id, {"shipped": "yes"})
    await engine.skip(execution_id, {"shipped": True}, by="ops")
    done = await engine.run(execution_id)
    assert done.status is ExecutionStatus.COMPLETED and done.context["shipment"] == {"shipped": True}
    assert counter.calls == {"charge": 1, "ship": 1, "thank": 1}
    skipped = [r for r in await store.history(execution_id) if r.outcome is StepStatus.SKIPPED]
    assert [(r.step_id, r.output, r.note) for r in skipped] == [("ship", {"shipped": True}, "skipped by ops")]


async def test_a_held_step_failed_by_the_operator_follows_on_failure(store: Store) -> None:
    counter = Counter()
    transitions = {"onFailure": "thank"}
    engine, execution_id = await failed_order(store, counter, onExhausted="hold", transitions=transitions)
    assert (await engine.get(execution_id)).status is ExecutionStatus.HELD  # type: ignore[union-attr]
    await engine.fail(execution_id, by="ops")
    done = await engine.run(execution_id)
    assert done.status is ExecutionStatus.COMPLETED and done.context["problem"]["code"] == "HTTP_ERROR"
    assert counter.calls == {"charge": 1, "ship": 1, "thank": 1}


async def test_a_held_execution_still_times_out_and_says_so(store: Store) -> None:
    counter = Counter()
    engine = Engine(store, counter.handlers(), [order(onExhausted="hold")])
    timeout = TimeoutConfig(execution=timedelta(hours=1))
    execution, _ = await engine.create("order", {}, timeout=timeout)
    done = await engine.run(execution.id, simulate_time=True)
    assert done.status is ExecutionStatus.CANCELLED and done.cancellation is not None
    assert done.cancellation.source == "timeout" and "execution timeout of 3600s passed" in (
        done.cancellation.reason or ""
    )


async def test_fork_starts_a_new_execution_at_a_step_with_the_context_before_it(store: Store) -> None:
    counter = Counter()
    counter.broken = False
    engine, origin_id = await failed_order(store, counter)
    fork = await engine.fork(origin_id, "ship")
    assert fork.id != origin_id and fork.current_step_id == "ship"
    origin = await engine.get(origin_id)
    assert origin is not None
    assert fork.context == {"order": 7, "payment": origin.context["payment"]}  # before ship
    assert fork.metadata["forked_from"]["execution_id"] == origin_id
    assert origin.metadata["forks"] == [fork.id]
    done = await engine.run(fork.id)
    assert done.status is ExecutionStatus.COMPLETED and counter.calls == {"charge": 1, "ship": 2, "thank": 2}
    edited = await engine.fork(origin_id, "charge", context={"order": 8})
    assert edited.context == {"order": 8} and edited.current_step_id == "charge"
    with pytest.raises(NotRepairableError, match="never reached step 'nope'"):
        await engine.fork(origin_id, "nope")


async def test_migrate_moves_a_held_execution_to_the_fixed_definition(store: Store) -> None:
    counter = Counter()
    engine, execution_id = await failed_order(store, counter, onExhausted="hold")
    held = await engine.get(execution_id)
    assert held is not None
    fixed = Flow.from_dict({**order(onExhausted="hold").to_dict(), "version": "1.0.1"})
    renamed = Flow.from_dict(
        {
            **order().to_dict(),
            "version": "2.0.0",
            "steps": {"other": {"type": "charge"}},
            "initialStepId": "other",
        }
    )
    refused = await engine.check_migration(held, renamed)
    assert not refused.ok and "its current step 'ship' is not in the target" in refused.problems
    with pytest.raises(NotMigratableError):
        await engine.migrate(execution_id, renamed)
    assert (await engine.check_migration(held, fixed)).ok
    await engine.migrate(execution_id, fixed, by="ops")
    moved = await engine.get(execution_id)
    assert moved is not None and (moved.flow_hash, moved.flow_version) == (fixed.hash, "1.0.1")
    note = [r.note for r in await store.history(execution_id) if r.outcome is StepStatus.MIGRATED]
    assert note == [f"definition {held.flow_hash[:12]} (1.0.0) -> {fixed.hash[:12]} (1.0.1) by ops"]
    counter.broken = False
    await engine.retry(execution_id)
    assert (await engine.run(execution_id)).status is ExecutionStatus.COMPLETED
    assert (await engine.flow_of(moved)).hash == fixed.hash and ErrorCode.NOT_MIGRATABLE == "NOT_MIGRATABLE"
