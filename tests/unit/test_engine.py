"""The engine's rules (DESIGN.md §3), observed through executions and their history."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from flowmonkey import (
    Engine,
    ErrorCode,
    EventType,
    Execution,
    ExecutionStatus,
    Flow,
    HandlerParams,
    NotWaitingError,
    Result,
    StepResult,
    StepStatus,
    Store,
    TimeoutConfig,
    handler,
)
from tests.unit.conftest import FakeClock
from tests.unit.helpers import BASIC, chain


def make_engine(store: Store, flows: list[dict[str, Any]], *extra: Any, **options: Any) -> Engine:
    return Engine(store, [*BASIC, *extra], [Flow.from_dict(f) for f in flows], **options)


async def run_new(
    engine: Engine, flow_id: str, context: dict[str, Any] | None = None, **kw: Any
) -> Execution:
    execution, created = await engine.create(flow_id, context or {})
    assert created
    return await engine.run(execution.id, simulate_time=True)


async def test_runs_a_chain_to_completion_with_outputs_at_output_keys(store: Store) -> None:
    flow = chain("math", ["add", "add", "add"], input={"type": "key", "key": "n"}, outputKey="n")
    engine = make_engine(store, [flow])
    done = await run_new(engine, "math", {"n": 1})
    assert done.status is ExecutionStatus.COMPLETED
    assert done.context == {"n": 4}
    assert done.step_count == 3
    assert done.completed_at is not None
    history = await store.history(done.id)
    assert [r.step_id for r in history] == ["s0", "s1", "s2"]
    assert [r.sequence for r in history] == [1, 2, 3]
    assert [r.output for r in history] == [2, 3, 4]


async def test_failure_branches_to_on_failure_and_stores_error_key(store: Store) -> None:
    flow = {
        "id": "branch",
        "initialStepId": "charge",
        "steps": {
            "charge": {
                "type": "fail",
                "config": {"code": "CARD_DECLINED", "message": "declined"},
                "errorKey": "lastError",
                "transitions": {"onSuccess": "ship", "onFailure": "notify"},
            },
            "ship": {"type": "echo", "outputKey": "shipped"},
            "notify": {"type": "echo", "input": {"type": "static", "value": "sorry"}, "outputKey": "notice"},
        },
    }
    engine = make_engine(store, [flow])
    done = await run_new(engine, "branch")
    assert done.status is ExecutionStatus.COMPLETED
    assert done.context["notice"] == "sorry"
    assert "shipped" not in done.context
    assert done.context["lastError"] == {
        "code": "CARD_DECLINED",
        "message": "declined",
        "step_id": "charge",
        "details": None,
    }
    history = await store.history(done.id)
    assert [(r.step_id, r.outcome) for r in history] == [
        ("charge", StepStatus.FAILED),
        ("notify", StepStatus.COMPLETED),
    ]


async def test_failure_without_on_failure_fails_the_execution(store: Store) -> None:
    engine = make_engine(store, [chain("f", ["echo", "fail"])])
    done = await run_new(engine, "f")
    assert done.status is ExecutionStatus.FAILED
    assert done.error is not None
    assert (done.error.code, done.error.step_id, done.error.message) == ("BOOM", "s1", "it broke")


async def test_a_raising_handler_fails_with_handler_error(store: Store) -> None:
    engine = make_engine(store, [chain("c", ["crash"])])
    done = await run_new(engine, "c")
    assert done.error is not None
    assert done.error.code == ErrorCode.HANDLER_ERROR
    assert "handler crashed" in done.error.message


async def test_unknown_handler_type_fails_with_handler_not_found(store: Store) -> None:
    engine = make_engine(store, [chain("u", ["nope"])])
    done = await run_new(engine, "u")
    assert done.error is not None and done.error.code == ErrorCode.HANDLER_NOT_FOUND


async def test_missing_input_key_fails_with_input_error(store: Store) -> None:
    engine = make_engine(store, [chain("i", ["echo"], input={"type": "key", "key": "absent"})])
    done = await run_new(engine, "i")
    assert done.error is not None and done.error.code == ErrorCode.INPUT_ERROR
    assert "absent" in done.error.message


async def test_handler_can_choose_the_next_step(store: Store) -> None:
    @handler("router")
    async def router(params: HandlerParams) -> StepResult:
        return Result.success("routed", next_step="c")

    flow = {
        "id": "r",
        "initialStepId": "a",
        "steps": {
            "a": {"type": "router", "transitions": {"onSuccess": "b"}},
            "b": {"type": "echo", "input": {"type": "static", "value": "b"}, "outputKey": "via"},
            "c": {"type": "echo", "input": {"type": "static", "value": "c"}, "outputKey": "via"},
        },
    }
    engine = make_engine(store, [flow], router)
    done = await run_new(engine, "r")
    assert done.context["via"] == "c"


async def test_next_step_to_an_unknown_step_fails_with_invalid_transition(store: Store) -> None:
    @handler("lost")
    async def lost(params: HandlerParams) -> StepResult:
        return Result.success(None, next_step="nowhere")

    engine = make_engine(store, [chain("l", ["lost"])], lost)
    done = await run_new(engine, "l")
    assert done.error is not None and done.error.code == ErrorCode.INVALID_TRANSITION
    assert "nowhere" in done.error.message


async def test_wait_then_resume_stores_data_at_output_key_and_completes(store: Store) -> None:
    flow = {
        "id": "approve",
        "initialStepId": "ask",
        "steps": {
            "ask": {"type": "wait", "outputKey": "decision", "transitions": {"onSuccess": "done"}},
            "done": {
                "type": "echo",
                "input": {"type": "path", "path": "decision.approved"},
                "outputKey": "ok",
            },
        },
    }
    engine = make_engine(store, [flow])
    waiting = await run_new(engine, "approve")
    assert waiting.status is ExecutionStatus.WAITING
    assert waiting.wait_reason == "waiting for a person"
    assert waiting.current_step_id == "ask"
    resumed = await engine.resume(waiting.id, {"approved": True})
    assert resumed.status is ExecutionStatus.RUNNING
    done = await engine.run(waiting.id)
    assert done.status is ExecutionStatus.COMPLETED
    assert done.context == {"decision": {"approved": True}, "ok": True}
    outcomes = [r.outcome for r in await store.history(done.id)]
    assert outcomes == [StepStatus.WAITING, StepStatus.RESUMED, StepStatus.COMPLETED]


async def test_resume_follows_on_resume_before_on_success(store: Store) -> None:
    flow = {
        "id": "r2",
        "initialStepId": "ask",
        "steps": {
            "ask": {"type": "wait", "transitions": {"onSuccess": "a", "onResume": "b"}},
            "a": {"type": "echo", "input": {"type": "static", "value": "a"}, "outputKey": "went"},
            "b": {"type": "echo", "input": {"type": "static", "value": "b"}, "outputKey": "went"},
        },
    }
    engine = make_engine(store, [flow])
    waiting = await run_new(engine, "r2")
    await engine.resume(waiting.id, None)
    assert (await engine.run(waiting.id)).context["went"] == "b"


async def test_resume_of_an_execution_that_is_not_waiting_changes_nothing(store: Store) -> None:
    engine = make_engine(store, [chain("done", ["echo"])])
    done = await run_new(engine, "done")
    with pytest.raises(NotWaitingError) as raised:
        await engine.resume(done.id, {"x": 1})
    assert raised.value.code == ErrorCode.NOT_WAITING
    after = await engine.get(done.id)
    assert after is not None
    assert (after.revision, after.context, after.status) == (done.revision, done.context, done.status)


async def test_timer_wake_reruns_the_step_with_woken_by_timer(store: Store, clock: FakeClock) -> None:
    seen: list[Any] = []

    @handler("nap")
    async def nap(params: HandlerParams) -> StepResult:
        seen.append(params.woken_by)
        if params.woken_by == "timer":
            return Result.success("rested")
        return Result.wait(wake_at=params.now + timedelta(minutes=5), reason="napping")

    engine = make_engine(store, [chain("nap", ["nap"], outputKey="r")], nap, clock=clock)
    execution, _ = await engine.create("nap", {})
    waiting = await engine.run(execution.id)
    assert waiting.status is ExecutionStatus.WAITING
    assert waiting.wake_at == clock.now + timedelta(minutes=5)
    assert (await engine.step(execution.id)).committed is False  # not due yet
    clock.advance(minutes=5)
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED
    assert seen == [None, "timer"]


async def test_simulate_time_fast_forwards_over_waits(store: Store, clock: FakeClock) -> None:
    @handler("sleepy")
    async def sleepy(params: HandlerParams) -> StepResult:
        if params.woken_by == "timer":
            return Result.success(params.now.isoformat())
        return Result.wait(wake_at=params.now + timedelta(days=3))

    engine = make_engine(store, [chain("s", ["sleepy"], outputKey="at")], sleepy, clock=clock)
    start = clock.now
    done = await run_new(engine, "s")
    assert done.status is ExecutionStatus.COMPLETED
    assert engine.now() - start >= timedelta(days=3)
    assert clock.now == start  # the real clock is untouched


async def test_retry_twice_then_succeed_with_durable_backoff(store: Store, clock: FakeClock) -> None:
    calls: list[int] = []

    @handler("flaky")
    async def flaky(params: HandlerParams) -> StepResult:
        calls.append(params.attempt)
        if params.attempt < 3:
            return Result.failure("HTTP_ERROR", f"attempt {params.attempt} failed")
        return Result.success("ok")

    retry = {"maxAttempts": 3, "backoff": "1s", "multiplier": 2, "retryOn": ["HTTP_ERROR"]}
    engine = make_engine(store, [chain("flaky", ["flaky"], retry=retry, outputKey="r")], flaky, clock=clock)
    retries: list[Any] = []
    engine.events.subscribe(retries.append, [EventType.STEP_RETRY])
    execution, _ = await engine.create("flaky", {})
    first = await engine.run(execution.id)  # real time: parks at the first backoff
    assert first.status is ExecutionStatus.WAITING
    assert first.wait_reason == "retry 1/2"
    assert first.wake_at == clock.now + timedelta(seconds=1)
    done = await engine.run(execution.id, simulate_time=True)
    assert done.status is ExecutionStatus.COMPLETED
    assert calls == [1, 2, 3]
    history = await store.history(execution.id)
    assert [(r.outcome, r.attempt) for r in history] == [
        (StepStatus.RETRY, 1),
        (StepStatus.RETRY, 2),
        (StepStatus.COMPLETED, 3),
    ]
    assert [r.note for r in history[:2]] == ["retry 1/2 in 1s", "retry 2/2 in 2s"]
    assert [(e.step_id, e.data["attempt"], e.data["error"]["code"]) for e in retries] == [
        ("s0", 1, "HTTP_ERROR"),
        ("s0", 2, "HTTP_ERROR"),
    ]


async def test_retry_on_only_retries_listed_codes(store: Store) -> None:
    retry = {"maxAttempts": 5, "backoff": "10ms", "retryOn": ["HTTP_ERROR"]}
    engine = make_engine(store, [chain("r", ["fail"], retry=retry, config={"code": "VALIDATION"})])
    done = await run_new(engine, "r")
    assert done.status is ExecutionStatus.FAILED
    assert done.attempt == 1
    assert len(await store.history(done.id)) == 1


async def test_retries_exhausted_fail_with_the_last_error(store: Store) -> None:
    engine = make_engine(store, [chain("r", ["fail"], retry={"maxAttempts": 3, "backoff": "1s"})])
    done = await run_new(engine, "r")
    assert done.status is ExecutionStatus.FAILED
    assert [r.outcome for r in await store.history(done.id)] == [
        StepStatus.RETRY,
        StepStatus.RETRY,
        StepStatus.FAILED,
    ]


async def test_step_timeout_fails_with_step_timeout_and_is_retryable(store: Store) -> None:
    attempts: list[int] = []

    @handler("slow")
    async def slow(params: HandlerParams) -> StepResult:
        attempts.append(params.attempt)
        if params.attempt == 1:
            await asyncio.Event().wait()  # never set: only the timeout ends this
        return Result.success("fast enough")

    flow = chain("slow", ["slow"], timeout="50ms", retry={"maxAttempts": 2, "backoff": "1s"})
    engine = make_engine(store, [flow], slow)
    done = await run_new(engine, "slow")
    assert done.status is ExecutionStatus.COMPLETED
    history = await store.history(done.id)
    assert history[0].error is not None and history[0].error.code == ErrorCode.STEP_TIMEOUT
    assert attempts == [1, 2]


async def test_a_handlers_own_timeout_error_is_a_handler_error_not_a_step_timeout(store: Store) -> None:
    @handler("client-timeout")
    async def client_timeout(params: HandlerParams) -> StepResult:
        raise TimeoutError("upstream did not answer")

    for options in ({}, {"timeout": "10s"}):
        engine = make_engine(store, [chain("ct", ["client-timeout"], **options)], client_timeout)
        done = await run_new(engine, "ct")
        assert done.error is not None
        assert (done.error.code, done.error.message) == (
            "HANDLER_ERROR",
            "TimeoutError: upstream did not answer",
        )


async def test_a_handler_returning_something_else_fails_with_handler_error(store: Store) -> None:
    @handler("sloppy")
    async def sloppy(params: HandlerParams) -> StepResult:
        return {"not": "a result"}  # type: ignore[return-value]

    engine = make_engine(store, [chain("s", ["sloppy"])], sloppy)
    done = await run_new(engine, "s")
    assert done.error is not None and done.error.code == ErrorCode.HANDLER_ERROR
    assert "returned dict, not a StepResult" in done.error.message


async def test_max_steps_stops_a_loop(store: Store) -> None:
    flow = {
        "id": "loop",
        "initialStepId": "a",
        "steps": {"a": {"type": "echo", "transitions": {"onSuccess": "a"}}},
    }
    engine = make_engine(store, [flow], max_steps=25)
    done = await run_new(engine, "loop")
    assert done.status is ExecutionStatus.FAILED
    assert done.error is not None and done.error.code == ErrorCode.MAX_STEPS
    assert done.step_count == 26  # 25 steps, then the failing check is recorded


async def test_context_limit_fails_without_storing_the_oversized_output(store: Store) -> None:
    @handler("big")
    async def big(params: HandlerParams) -> StepResult:
        return Result.success("x" * 5000)

    engine = make_engine(store, [chain("big", ["big"], outputKey="blob")], big, max_context_bytes=1000)
    done = await run_new(engine, "big", {"keep": 1})
    assert done.error is not None and done.error.code == ErrorCode.CONTEXT_LIMIT
    assert done.context == {"keep": 1}


async def test_execution_timeout_cancels_with_source_timeout(store: Store, clock: FakeClock) -> None:
    engine = make_engine(store, [chain("w", ["wait"])], clock=clock)
    execution, _ = await engine.create("w", {}, timeout=TimeoutConfig(execution=timedelta(hours=1)))
    waiting = await engine.run(execution.id)
    assert waiting.timeout_at == execution.created_at + timedelta(hours=1)
    clock.advance(hours=2)
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.CANCELLED
    assert done.cancellation is not None and done.cancellation.source == "timeout"
    assert "execution timeout" in (done.cancellation.reason or "")


async def test_wait_timeout_cancels_and_resume_is_then_refused(store: Store, clock: FakeClock) -> None:
    engine = make_engine(store, [chain("w", ["wait"])], clock=clock)
    execution, _ = await engine.create("w", {}, timeout=TimeoutConfig(wait=timedelta(days=7)))
    await engine.run(execution.id)
    clock.advance(days=8)
    with pytest.raises(NotWaitingError):
        await engine.resume(execution.id, {"late": True})
    done = await engine.get(execution.id)
    assert done is not None and done.status is ExecutionStatus.CANCELLED
    assert done.cancellation is not None and done.cancellation.source == "timeout"


async def test_flow_timeout_is_the_default_execution_timeout(store: Store, clock: FakeClock) -> None:
    flow = {**chain("ft", ["wait"]), "timeout": "30m"}
    engine = make_engine(store, [flow], clock=clock)
    execution, _ = await engine.create("ft", {})
    assert execution.timeout_at == clock.now + timedelta(minutes=30)


async def test_cancel_a_waiting_execution(store: Store) -> None:
    engine = make_engine(store, [chain("w", ["wait"])])
    waiting = await run_new(engine, "w")
    result = await engine.cancel(waiting.id, source="user", reason="asked")
    assert result.cancelled is True
    assert result.previous_status is ExecutionStatus.WAITING
    done = await engine.get(waiting.id)
    assert done is not None and done.status is ExecutionStatus.CANCELLED
    assert done.cancellation is not None
    assert (done.cancellation.source, done.cancellation.reason) == ("user", "asked")
    assert (await store.history(done.id))[-1].outcome is StepStatus.CANCELLED


async def test_cancel_a_completed_execution_is_refused_without_raising(store: Store) -> None:
    engine = make_engine(store, [chain("d", ["echo"])])
    done = await run_new(engine, "d")
    result = await engine.cancel(done.id)
    assert result.cancelled is False
    assert result.previous_status is ExecutionStatus.COMPLETED
    assert result.error and "already completed" in result.error
    unknown = await engine.cancel("no-such-id")
    assert unknown.cancelled is False and unknown.error


async def test_cancel_a_parent_cancels_its_waiting_children(store: Store) -> None:
    parent = {
        "id": "parent",
        "initialStepId": "spawn",
        "steps": {
            "spawn": {
                "type": "subflow",
                "config": {"flowId": "child"},
                "input": {"type": "static", "value": {}},
            }
        },
    }
    child = {
        "id": "child",
        "initialStepId": "spawn",
        "steps": {
            "spawn": {
                "type": "subflow",
                "config": {"flowId": "leaf"},
                "input": {"type": "static", "value": {}},
            }
        },
    }
    engine = make_engine(store, [parent, child, chain("leaf", ["wait"])])
    top = await run_new(engine, "parent")
    assert top.status is ExecutionStatus.WAITING
    result = await engine.cancel(top.id, reason="stop all")
    assert result.cancelled and result.children_cancelled == 2
    everything = (await store.list_executions()).items
    assert {e.flow_id: e.status for e in everything} == dict.fromkeys(
        ["parent", "child", "leaf"], ExecutionStatus.CANCELLED
    )
    sources = {e.flow_id: e.cancellation.source for e in everything if e.cancellation}
    assert sources == {"parent": "user", "child": "parent", "leaf": "parent"}


async def test_a_cancel_between_read_and_commit_drops_the_step_outcome(store: Store) -> None:
    engine_holder: list[Engine] = []
    side_effects: list[str] = []

    @handler("racy")
    async def racy(params: HandlerParams) -> StepResult:
        side_effects.append("ran")
        await engine_holder[0].cancel(params.execution.id, reason="operator won")
        return Result.success("should not be stored")

    engine = make_engine(store, [chain("race", ["racy", "echo"], outputKey="out")], racy)
    engine_holder.append(engine)
    execution, _ = await engine.create("race", {})
    outcome = await engine.step(execution.id)
    assert outcome.committed is False
    stored = await engine.get(execution.id)
    assert stored is not None
    assert stored.status is ExecutionStatus.CANCELLED
    assert "out" not in stored.context
    assert side_effects == ["ran"]
    assert [r.outcome for r in await store.history(execution.id)] == [StepStatus.CANCELLED]


async def test_twenty_concurrent_creates_with_one_key_create_exactly_one(store: Store) -> None:
    engine = make_engine(store, [chain("idem", ["echo"])])
    results = await asyncio.gather(
        *(engine.create("idem", {"n": i}, idempotency_key="order-1") for i in range(20))
    )
    created = [r for r in results if r.created]
    assert len(created) == 1
    assert {r.execution.id for r in results} == {created[0].execution.id}
    assert sum((await store.count_executions()).values()) == 1


async def test_idempotency_returns_the_existing_execution_whatever_its_status(store: Store) -> None:
    events: list[EventType] = []
    engine = make_engine(store, [chain("idem", ["echo"])])
    engine.events.subscribe(lambda e: events.append(e.type))
    first, _ = await engine.create("idem", {}, idempotency_key="k")
    await engine.run(first.id)
    again, created = await engine.create("idem", {"other": 1}, idempotency_key="k")
    assert created is False
    assert again.id == first.id and again.status is ExecutionStatus.COMPLETED
    assert EventType.IDEMPOTENCY_HIT in events


async def test_idempotency_key_expires_after_its_ttl(store: Store, clock: FakeClock) -> None:
    engine = make_engine(store, [chain("idem", ["echo"])], clock=clock)
    first, _ = await engine.create("idem", {}, idempotency_key="k", idempotency_ttl=timedelta(hours=1))
    clock.advance(hours=2)
    second, created = await engine.create("idem", {}, idempotency_key="k")
    assert created and second.id != first.id


async def test_idempotency_is_scoped_by_tenant_and_flow(store: Store) -> None:
    engine = make_engine(store, [chain("a", ["echo"]), chain("b", ["echo"])])
    ids = {
        (await engine.create("a", {}, idempotency_key="k")).execution.id,
        (await engine.create("b", {}, idempotency_key="k")).execution.id,
        (await engine.create("a", {}, idempotency_key="k", tenant_id="t2")).execution.id,
    }
    assert len(ids) == 3


async def test_handlers_receive_a_stable_idempotency_key_per_attempt(store: Store) -> None:
    keys: list[str] = []

    @handler("keyed")
    async def keyed(params: HandlerParams) -> StepResult:
        keys.append(params.idempotency_key)
        return Result.failure("X", "again") if params.attempt == 1 else Result.success()

    engine = make_engine(store, [chain("k", ["keyed"], retry={"maxAttempts": 2, "backoff": 0})], keyed)
    done = await run_new(engine, "k")
    assert keys == [f"{done.id}:s0:1", f"{done.id}:s0:2"]


async def test_a_subscriber_that_raises_does_not_break_a_run(store: Store) -> None:
    seen: list[EventType] = []

    def broken(event: Any) -> None:
        raise ValueError("subscriber bug")

    engine = make_engine(store, [chain("ok", ["echo", "echo"])])
    engine.events.subscribe(broken)
    engine.events.subscribe(lambda e: seen.append(e.type))
    done = await run_new(engine, "ok")
    assert done.status is ExecutionStatus.COMPLETED
    assert seen[0] is EventType.EXECUTION_CREATED
    assert EventType.EXECUTION_COMPLETED in seen
    assert seen.count(EventType.STEP_COMPLETED) == 2


async def test_an_event_no_subscriber_wants_is_never_built(store: Store, clock: FakeClock) -> None:
    # A worker logs lifecycle events only: the step events of every step are not built
    # (no Event, no clock reading for it), and the wanted ones still arrive.
    engine = make_engine(store, [chain("ok", ["echo", "echo"])], clock=clock)
    lifecycle: list[EventType] = []
    unsubscribe = engine.events.subscribe(
        lambda e: lifecycle.append(e.type), [EventType.EXECUTION_STARTED, EventType.EXECUTION_COMPLETED]
    )
    assert engine.events.wants(EventType.EXECUTION_COMPLETED)
    assert not engine.events.wants(EventType.STEP_STARTED)
    readings = clock.readings
    done = await run_new(engine, "ok")
    assert done.status is ExecutionStatus.COMPLETED
    assert lifecycle == [EventType.EXECUTION_STARTED, EventType.EXECUTION_COMPLETED]
    quiet = clock.readings - readings
    everything: list[EventType] = []
    engine.events.subscribe(lambda e: everything.append(e.type))
    assert engine.events.wants(EventType.STEP_STARTED)
    readings = clock.readings
    await run_new(engine, "ok")
    assert everything.count(EventType.STEP_COMPLETED) == 2
    assert clock.readings - readings > quiet  # each event built read the clock
    unsubscribe()
    assert engine.events.wants(EventType.STEP_STARTED)  # (the other subscriber wants all)


async def test_executions_stay_on_the_definition_they_started_with(store: Store) -> None:
    v1 = chain("evolve", ["wait", "echo"])
    v1["steps"]["s1"]["input"] = {"type": "static", "value": "v1"}
    v1["steps"]["s1"]["outputKey"] = "ran"
    engine = make_engine(store, [v1])
    waiting = await run_new(engine, "evolve")
    v2 = {**v1, "version": "2.0.0", "steps": {"s0": {"type": "echo", "outputKey": "x"}}}
    engine.flows.register(Flow.from_dict(v2))
    await engine.resume(waiting.id, None)
    done = await engine.run(waiting.id)
    assert done.context["ran"] == "v1"
    assert done.flow_version == "1.0.0"
    fresh = await run_new(engine, "evolve")
    assert fresh.flow_version == "2.0.0"


async def test_an_execution_continues_from_the_stored_definition_after_a_restart(store: Store) -> None:
    engine = make_engine(store, [chain("persist", ["wait", "echo"])])
    waiting = await run_new(engine, "persist")
    restarted = make_engine(store, [])  # a new process that no longer has the flow registered
    await restarted.resume(waiting.id, {"go": True})
    done = await restarted.run(waiting.id)
    assert done.status is ExecutionStatus.COMPLETED


async def test_create_of_an_unknown_flow_raises_flow_not_found(store: Store) -> None:
    engine = make_engine(store, [])
    with pytest.raises(Exception) as raised:
        await engine.create("ghost", {})
    assert getattr(raised.value, "code", None) == ErrorCode.FLOW_NOT_FOUND
