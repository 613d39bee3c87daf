"""A handler output no store can hold fails that step (``OUTPUT_NOT_JSON``), once.

Collected again on SQLite and PostgreSQL by tests/integration/test_engine_on_stores.py.
Before, the store's commit raised, the runtime kept the claim until the lease lapsed and
ran the handler again, for ever.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from flowmonkey import (
    Change,
    Engine,
    ErrorCode,
    ExecutionStatus,
    Flow,
    FlowError,
    HandlerParams,
    MemoryStore,
    NotJsonError,
    NotWaitingError,
    Result,
    ResumeDataError,
    Runtime,
    StepResult,
    StepStatus,
    Store,
    StoreError,
    handler,
)

POISON: dict[str, Any] = {
    "object": object(),
    "set": {1, 2},
    "bytes": b"\x00\x01",
    "huge-int": 10**5000,
    "nan": float("nan"),
    "nul": "a\x00b",
    "lone-surrogate": "\ud800",
    "nested": {"items": [1, 2, 3, {4}]},
}
WHERE = {"nested": "$.result.items[3]"}


def _flow(**step: Any) -> Flow:
    return Flow.from_dict(
        {
            "id": "poison",
            "initialStepId": "emit",
            "steps": {
                "emit": {"type": "emit", "outputKey": "result", "errorKey": "problem", **step},
                "recover": {"type": "emit-ok"},
            },
        }
    )


def _engine(store: Store, value: Any, calls: list[int], **step: Any) -> Engine:
    @handler("emit")
    async def emit(params: HandlerParams) -> StepResult:
        calls.append(params.attempt)
        return Result.success(value)

    @handler("emit-ok")
    async def emit_ok(params: HandlerParams) -> StepResult:
        return Result.success("fine")

    return Engine(store, [emit, emit_ok], [_flow(**step)])


@pytest.mark.parametrize("kind", sorted(POISON))
async def test_a_poison_output_fails_its_step_and_follows_on_failure(store: Store, kind: str) -> None:
    calls: list[int] = []
    engine = _engine(store, POISON[kind], calls, transitions={"onSuccess": None, "onFailure": "recover"})
    execution, _ = await engine.create("poison")
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED and calls == [1]
    problem = done.context["problem"]
    assert problem["code"] == ErrorCode.OUTPUT_NOT_JSON and problem["step_id"] == "emit"
    assert problem["details"]["path"] == WHERE.get(kind, "$.result")
    assert "result" not in done.context  # nothing of the poison was stored
    history = await store.history(done.id)
    assert [(r.step_id, r.outcome) for r in history] == [
        ("emit", StepStatus.FAILED),
        ("recover", StepStatus.COMPLETED),
    ]
    assert history[0].error is not None and history[0].error.code == ErrorCode.OUTPUT_NOT_JSON


async def test_a_poison_output_is_retried_only_when_retry_on_names_it(store: Store) -> None:
    calls: list[int] = []
    retry = {"maxAttempts": 3, "backoff": 0, "retryOn": ["OUTPUT_NOT_JSON"]}
    engine = _engine(store, {"when": float("inf")}, calls, retry=retry)
    execution, _ = await engine.create("poison")
    done = await engine.run(execution.id, simulate_time=True)
    assert done.status is ExecutionStatus.FAILED and calls == [1, 2, 3]
    assert done.error is not None and done.error.code == ErrorCode.OUTPUT_NOT_JSON
    assert "$.result.when" in done.error.message


async def test_a_runtime_runs_a_poison_step_once_not_once_per_lease(store: Store) -> None:
    calls: list[int] = []
    engine = _engine(store, {1, 2}, calls)
    execution, _ = await engine.create("poison")
    async with Runtime(engine, lease=timedelta(milliseconds=200)) as runtime:
        await runtime.run_until_idle(timeout=10)
    final = await engine.get(execution.id)
    assert final is not None and final.status is ExecutionStatus.FAILED and calls == [1]


async def test_a_failure_with_unstorable_details_and_text_still_fails_cleanly(store: Store) -> None:
    @handler("complain")
    async def complain(params: HandlerParams) -> StepResult:
        return Result.failure("BAD\x00CODE", "bytes \x00 and \ud800 in a message", {"raw": b"\x00"})

    flow = Flow.from_dict({"id": "complain", "initialStepId": "c", "steps": {"c": {"type": "complain"}}})
    engine = Engine(store, [complain], [flow])
    execution, _ = await engine.create("complain")
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.FAILED and done.error is not None
    assert done.error.message == "bytes \\0 and ? in a message" and done.error.code == "BAD\\0CODE"
    assert done.error.details == {"unstorable": "$.details.raw: is a bytes, which is not JSON"}
    stored = await store.get_execution(execution.id)
    assert stored is not None and stored.error == done.error


async def test_resume_data_and_a_context_that_are_not_json_are_refused_before_anything_is_stored(
    store: Store,
) -> None:
    @handler("hold")
    async def hold(params: HandlerParams) -> StepResult:
        return Result.wait(reason="a person decides")

    flow = Flow.from_dict(
        {"id": "hold", "initialStepId": "h", "steps": {"h": {"type": "hold", "outputKey": "d"}}}
    )
    engine = Engine(store, [hold], [flow])
    with pytest.raises(NotJsonError, match=r"the context is not JSON: \$\.when: is nan"):
        await engine.create("hold", {"when": float("nan")})
    assert (await store.list_executions()).items == []
    execution, _ = await engine.create("hold")
    waiting = await engine.run(execution.id)
    with pytest.raises(NotJsonError, match=r"the resume data is not JSON: \$\.by: contains a NUL") as caught:
        await engine.resume(execution.id, {"by": "a\x00b"})
    assert caught.value.details == {"path": "$.by", "reason": "contains a NUL character (\\u0000)"}
    assert await store.get_execution(execution.id) == waiting


async def test_a_resume_for_another_visit_of_the_wait_is_refused(store: Store) -> None:
    @handler("hold")
    async def hold(params: HandlerParams) -> StepResult:
        return Result.wait(reason="a person decides")

    flow = Flow.from_dict(
        {"id": "hold", "initialStepId": "h", "steps": {"h": {"type": "hold", "outputKey": "d"}}}
    )
    engine = Engine(store, [hold], [flow])
    execution, _ = await engine.create("hold")
    waiting = await engine.run(execution.id)
    with pytest.raises(NotWaitingError, match="no longer waits at the visit"):
        await engine.resume(execution.id, {"ok": True}, visit=waiting.visit + 7)
    assert await store.get_execution(execution.id) == waiting
    done = await engine.resume(execution.id, {"ok": True}, visit=waiting.visit)
    assert done.status is ExecutionStatus.COMPLETED and done.context["d"] == {"ok": True}


async def test_resume_data_the_steps_resume_schema_refuses_is_refused_listing_every_error(
    store: Store,
) -> None:
    @handler("hold")
    async def hold(params: HandlerParams) -> StepResult:
        return Result.wait(reason="a person decides")

    schema = {
        "type": "object",
        "required": ["approved", "by"],
        "properties": {"approved": {"type": "boolean"}, "by": {"type": "string"}},
    }
    step = {"type": "hold", "outputKey": "decision", "resumeSchema": schema}
    flow = Flow.from_dict({"id": "ask", "initialStepId": "a", "steps": {"a": step}})
    engine = Engine(store, [hold], [flow])
    execution, _ = await engine.create("ask")
    waiting = await engine.run(execution.id)
    with pytest.raises(ResumeDataError) as caught:
        await engine.resume(execution.id, {"approved": "yes"})
    assert caught.value.details == {
        "errors": [
            {"path": "$.approved", "message": "'yes' is not of type 'boolean'"},
            {"path": "$.by", "message": "'by' is a required property"},
        ]
    }
    assert "$.approved: 'yes' is not of type 'boolean'; $.by: 'by' is a required property" in str(
        caught.value
    )
    assert await store.get_execution(execution.id) == waiting  # nothing changed
    done = await engine.resume(execution.id, {"approved": True, "by": "ops"})
    assert done.status is ExecutionStatus.COMPLETED


def test_a_resume_schema_that_is_not_a_schema_is_refused_when_the_flow_loads() -> None:
    step = {"type": "hold", "resumeSchema": {"type": "boolean-ish"}}
    with pytest.raises(FlowError, match=r"steps\.a\.resumeSchema.*not a valid JSON Schema"):
        Flow.from_dict({"id": "ask", "initialStepId": "a", "steps": {"a": step}})


async def test_an_outcome_the_store_refuses_for_good_fails_the_step_without_a_rerun() -> None:
    class Refuses(MemoryStore):
        """Refuses the first commit of step 'emit' the way a database refuses a row."""

        refused = False

        async def commit(self, change: Change) -> bool:
            if not self.refused and change.record is not None and change.record.step_id == "emit":
                self.refused = True
                raise StoreError("value too long for the column")  # not transient
            return await super().commit(change)

    store = Refuses()
    calls: list[int] = []
    engine = _engine(store, {"fine": True}, calls, retry={"maxAttempts": 3, "backoff": 0})
    execution, _ = await engine.create("poison")
    async with Runtime(engine, lease=timedelta(milliseconds=200)) as runtime:
        await runtime.run_until_idle(timeout=10)
    final = await store.get_execution(execution.id)
    assert final is not None and final.status is ExecutionStatus.FAILED and calls == [1]
    assert final.error is not None and final.error.code == ErrorCode.STORE_REJECTED
    assert "value too long" in final.error.message
