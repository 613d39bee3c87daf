"""``parallel`` and ``map`` steps: children are real executions, outputs come back in
order, failures past the tolerance fail the step naming the child, ``any`` cancels the
losers. Collected again on SQLite and PostgreSQL by tests/integration/test_engine_on_stores.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from flowmonkey import (
    Engine,
    ExecutionQuery,
    ExecutionStatus,
    Flow,
    HandlerParams,
    Result,
    StepResult,
    Store,
    handler,
)
from flowmonkey.errors import StoreError
from flowmonkey.model import Execution
from flowmonkey.model.fanout import FanIn
from flowmonkey.stores.memory import MemoryStore


@handler("double")
async def double(params: HandlerParams) -> StepResult:
    item = params.input
    if item == "boom" or (isinstance(item, int) and item < 0):
        return Result.failure("BAD_ITEM", f"cannot double {item!r}")
    return Result.success({"doubled": item * 2})


@handler("score")
async def score(params: HandlerParams) -> StepResult:
    if params.config.get("fail"):
        return Result.failure("SCORE_DOWN", "the scoring service is down")
    if params.config.get("wait"):
        return Result.wait(reason="a person decides")
    return Result.success({"score": params.config["score"], "customer": params.input.get("customer")})


@handler("mark")
async def mark(params: HandlerParams) -> StepResult:
    return Result.success(params.input)


def _one_step(flow_id: str, step: dict[str, Any]) -> Flow:
    return Flow.from_dict({"id": flow_id, "initialStepId": "a", "steps": {"a": step}})


DOUBLE = _one_step("double-it", {"type": "double", "input": {"type": "key", "key": "item"}, "outputKey": "r"})
CREDIT = _one_step("credit", {"type": "score", "config": {"score": 700}, "outputKey": "credit"})
FRAUD = _one_step("fraud", {"type": "score", "config": {"score": 3}, "outputKey": "fraud"})
FAILING = _one_step("failing", {"type": "score", "config": {"fail": True}})
WAITING = _one_step("waiting", {"type": "score", "config": {"wait": True}})


def _map(**extra: Any) -> Flow:
    step = {
        "type": "map",
        "flow": "double-it",
        "input": {"type": "key", "key": "items"},
        "outputSelector": {"type": "path", "path": "r.doubled"},
        "outputKey": "doubled",
        **extra,
    }
    return Flow.from_dict({"id": "mapper", "initialStepId": "m", "steps": {"m": step}})


def _parallel(branches: dict[str, Any], **extra: Any) -> Flow:
    steps = {
        "p": {"type": "parallel", "branches": branches, "outputKey": "checks", **extra},
        "handled": {"type": "mark", "input": {"type": "key", "key": "why"}, "outputKey": "handled"},
    }
    return Flow.from_dict({"id": "checks", "initialStepId": "p", "steps": steps})


def _engine(store: Store, *flows: Flow) -> Engine:
    return Engine(store, [double, score, mark], [DOUBLE, CREDIT, FRAUD, FAILING, WAITING, *flows])


async def _children(store: Store, parent_id: str) -> list[Any]:
    page = await store.list_executions(ExecutionQuery(parent_execution_id=parent_id), limit=1000)
    return page.items


async def test_a_map_runs_one_child_per_element_and_keeps_the_input_order(store: Store) -> None:
    engine = _engine(store, _map(maxConcurrency=3))
    items = list(range(25))
    execution, _ = await engine.create("mapper", {"items": items})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED, done.error
    assert done.context["doubled"] == [i * 2 for i in items]
    children = await _children(store, execution.id)
    assert len(children) == 25 and all(c.status is ExecutionStatus.COMPLETED for c in children)
    assert sorted(c.context["index"] for c in children) == items
    (fan,) = await store.fans_of(execution.id)
    assert (fan.started, fan.done, fan.failed, fan.succeeded) == (25, 25, 0, 25)


async def test_a_map_never_runs_more_children_than_its_concurrency(store: Store) -> None:
    engine = _engine(store, _map(maxConcurrency=4))
    execution, _ = await engine.create("mapper", {"items": list(range(10))})
    first = await engine.step(execution.id)
    assert first.execution.status is ExecutionStatus.WAITING
    assert first.execution.wait_reason == "map 0/10 done, 0 failed"
    assert len(await _children(store, execution.id)) == 4


async def test_an_empty_map_completes_with_an_empty_list(store: Store) -> None:
    engine = _engine(store, _map())
    execution, _ = await engine.create("mapper", {"items": []})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED and done.context["doubled"] == []


async def test_a_map_over_something_else_than_a_list_fails_the_step(store: Store) -> None:
    engine = _engine(store, _map())
    execution, _ = await engine.create("mapper", {"items": {"a": 1}})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.FAILED and done.error is not None
    assert done.error.code == "INPUT_ERROR" and "needs a list" in done.error.message


async def test_tolerated_failures_appear_as_errors_in_place(store: Store) -> None:
    engine = _engine(store, _map(toleratedFailures="20%"))
    execution, _ = await engine.create("mapper", {"items": [1, -1, 3, 4, 5]})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED, done.error
    out = done.context["doubled"]
    assert out[0] == 2 and out[2:] == [6, 8, 10]
    assert out[1]["error"]["code"] == "BAD_ITEM" and out[1]["executionId"]


async def test_a_failure_past_the_tolerance_fails_the_map_naming_the_element(store: Store) -> None:
    engine = _engine(store, _map(toleratedFailures=1, maxConcurrency=2))
    execution, _ = await engine.create("mapper", {"items": [1, -1, "boom", 4, 5, 6]})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.FAILED and done.error is not None
    assert done.error.code == "ITEM_FAILED"
    assert done.error.details["index"] in (1, 2) and done.error.details["error"]["code"] == "BAD_ITEM"
    children = await _children(store, execution.id)
    assert len(children) < 6  # no more children once the step failed


async def test_parallel_all_collects_each_branch_by_name(store: Store) -> None:
    flow = _parallel(
        {
            "credit": {"flow": "credit", "input": {"type": "key", "key": "customer"}},
            "fraud": {"flow": "fraud", "outputSelector": {"type": "key", "key": "fraud"}},
        }
    )
    engine = _engine(store, flow)
    execution, _ = await engine.create("checks", {"customer": {"customer": "c-1"}, "order": 7})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED, done.error
    checks = done.context["checks"]
    assert checks["credit"]["credit"] == {"score": 700, "customer": "c-1"}
    assert checks["fraud"] == {"score": 3, "customer": {"customer": "c-1"}}  # the step's input: all


async def test_a_failed_branch_fails_the_step_and_cancels_its_siblings(store: Store) -> None:
    flow = _parallel({"slow": {"flow": "waiting"}, "broken": {"flow": "failing"}})
    engine = _engine(store, flow)
    execution, _ = await engine.create("checks", {})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.FAILED and done.error is not None
    assert done.error.code == "BRANCH_FAILED" and done.error.details["branch"] == "broken"
    assert "the scoring service is down" in done.error.message
    children = {c.flow_id: c for c in await _children(store, execution.id)}
    assert children["waiting"].status is ExecutionStatus.CANCELLED
    assert (
        children["waiting"].cancellation is not None and children["waiting"].cancellation.source == "parent"
    )


async def test_on_error_routes_a_branch_failure_by_its_code(store: Store) -> None:
    flow = _parallel(
        {"broken": {"flow": "failing"}},
        errorKey="why",
        transitions={"onError": {"BRANCH_FAILED": "handled"}},
    )
    engine = _engine(store, flow)
    execution, _ = await engine.create("checks", {})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED
    assert done.context["handled"]["code"] == "BRANCH_FAILED"


async def test_parallel_any_takes_the_first_to_complete_and_cancels_the_rest(store: Store) -> None:
    flow = _parallel({"never": {"flow": "waiting"}, "quick": {"flow": "credit"}}, mode="any")
    engine = _engine(store, flow)
    execution, _ = await engine.create("checks", {})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED, done.error
    assert list(done.context["checks"]) == ["quick"]
    children = {c.flow_id: c for c in await _children(store, execution.id)}
    assert children["waiting"].status is ExecutionStatus.CANCELLED


async def test_cancelling_the_parent_cancels_its_children(store: Store) -> None:
    engine = _engine(store, _parallel({"a": {"flow": "waiting"}, "b": {"flow": "waiting"}}))
    execution, _ = await engine.create("checks", {})
    await engine.run(execution.id)
    result = await engine.cancel(execution.id, reason="changed my mind")
    assert result.cancelled and result.children_cancelled == 2
    assert all(c.status is ExecutionStatus.CANCELLED for c in await _children(store, execution.id))


async def test_an_output_past_the_context_limit_fails_the_step_naming_the_limit(store: Store) -> None:
    engine = Engine(store, [double], [DOUBLE, _map()], max_context_bytes=2000)
    execution, _ = await engine.create("mapper", {"items": list(range(400))})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.FAILED and done.error is not None
    assert done.error.code == "CONTEXT_LIMIT" and "2000 bytes" in done.error.message


async def test_the_child_flow_is_pinned_when_the_map_starts(store: Store) -> None:
    engine = _engine(store, _map(maxConcurrency=2))
    execution, _ = await engine.create("mapper", {"items": [1, 2, 3, 4]})
    await engine.step(execution.id)
    newer = Flow.from_dict({**DOUBLE.to_dict(), "version": "2.0.0"})
    engine.flows.register(newer)
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED
    children = await _children(store, execution.id)
    assert {c.flow_hash for c in children} == {DOUBLE.hash}


async def test_a_retried_fan_step_starts_new_children(store: Store) -> None:
    retry = {"maxAttempts": 2, "backoff": "10ms", "retryOn": ["BRANCH_FAILED"]}
    engine = _engine(store, _parallel({"broken": {"flow": "failing"}}, retry=retry))
    execution, _ = await engine.create("checks", {})
    done = await engine.run(execution.id, simulate_time=True)
    assert done.status is ExecutionStatus.FAILED and done.error is not None
    assert done.error.code == "BRANCH_FAILED" and done.attempt == 2
    children = await _children(store, execution.id)
    assert len(children) == 2  # one per attempt: the retry did not reuse the failed child
    assert [fan.done for fan in await store.fans_of(execution.id)] == [1, 1]


class _OutageOnce(MemoryStore):
    """Loses the connection once, as the fan step adds its children."""

    failed = False

    async def add_fan_children(self, fan_id: str, children: Sequence[tuple[int, Execution]]) -> FanIn:
        if not self.failed:
            self.failed = True
            raise StoreError("add_fan_children failed: connection reset", transient=True)
        return await super().add_fan_children(fan_id, children)


async def test_a_store_outage_as_a_map_starts_children_is_waited_out_not_a_failure() -> None:
    store = _OutageOnce()
    engine = _engine(store, _map())
    execution, _ = await engine.create("mapper", {"items": [1, 2, 3]})
    with pytest.raises(StoreError):  # the runtime waits the outage out, then steps again
        await engine.run(execution.id)
    stored = await store.get_execution(execution.id)
    assert stored is not None and stored.status is ExecutionStatus.PENDING and stored.error is None
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED, done.error
    assert done.context["doubled"] == [2, 4, 6]
