"""Flow versions by semver, flow validation on register, handler registration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from flowmonkey import (
    Flow,
    FlowError,
    FlowRegistry,
    HandlerParams,
    HandlerRegistry,
    Result,
    StepResult,
    handler,
)
from flowmonkey.registry import StepRef, unreachable_steps, version_key


def flow(version: str = "1.0.0", **steps: Any) -> Flow:
    return Flow.from_dict(
        {"id": "f", "version": version, "initialStepId": "a", "steps": steps or {"a": {"type": "x"}}}
    )


def test_latest_is_the_highest_semantic_version() -> None:
    registry = FlowRegistry([flow("9.0.0"), flow("10.0.0"), flow("10.0.0-rc.1"), flow("2.5.1")])
    assert registry.get("f").version == "10.0.0"
    assert [f.version for f in registry.versions("f")] == ["2.5.1", "9.0.0", "10.0.0-rc.1", "10.0.0"]
    assert registry.get("f", "9.0.0").version == "9.0.0"


def test_prerelease_ordering() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0"]
    assert sorted(reversed(ordered), key=version_key) == ordered


def test_unknown_version_lists_the_known_ones() -> None:
    registry = FlowRegistry([flow("1.0.0")])
    with pytest.raises(FlowError, match=r"no version '3.0.0' \(known: 1.0.0\)") as raised:
        registry.get("f", "3.0.0")
    assert raised.value.code == "FLOW_NOT_FOUND"


def test_an_unknown_transition_target_is_rejected_naming_flow_step_and_target() -> None:
    bad = flow(a={"type": "x", "transitions": {"onSuccess": "shipp"}})
    with pytest.raises(FlowError) as raised:
        FlowRegistry().register(bad)
    assert "flow 'f' 1.0.0: step 'a' onSuccess -> 'shipp' is not a step" in str(raised.value)


def test_an_unknown_initial_step_is_rejected() -> None:
    bad = Flow.from_dict({"id": "f", "initialStepId": "zzz", "steps": {"a": {"type": "x"}}})
    with pytest.raises(FlowError, match="initialStepId 'zzz' is not a step"):
        FlowRegistry().register(bad)


def test_a_flow_without_steps_is_rejected() -> None:
    # Flow.from_dict refuses one already (the schema); a flow built in code reaches the registry
    with pytest.raises(FlowError, match="has no steps"):
        FlowRegistry().register(Flow(id="f", initial_step_id="a", steps={}))


def test_retired_flows_are_hidden_from_new_executions_but_kept_by_hash() -> None:
    v1 = flow()
    registry = FlowRegistry([v1])
    registry.retire("f")
    assert "f" not in registry
    with pytest.raises(FlowError):
        registry.get("f")
    assert registry.by_hash(v1.hash) is v1


def test_unreachable_steps_are_found() -> None:
    f = flow(a={"type": "x", "transitions": {"onSuccess": "b"}}, b={"type": "x"}, orphan={"type": "x"})
    assert unreachable_steps(f) == ["orphan"]


def test_steps_a_handler_says_its_config_names_are_reachable() -> None:
    def named(config: Mapping[str, Any]) -> list[StepRef]:
        return [(("to",), config["to"])]

    @handler("route", step_refs=named)
    async def route(params: HandlerParams) -> StepResult:
        return Result.success(next_step=params.config["to"])

    class Plain:
        type = "plain"

        async def execute(self, params: HandlerParams) -> StepResult:
            return Result.success()

    f = flow(
        a={"type": "route", "config": {"to": "b"}},
        b={"type": "plain", "config": {"to": "c"}},
        c={"type": "x"},
    )
    handlers = HandlerRegistry([route, Plain()])

    assert handlers.step_refs(f.steps["a"]) == [(("to",), "b")]
    assert handlers.step_refs(f.steps["b"]) == []  # a handler without step_refs names no steps
    assert handlers.step_refs(f.steps["c"]) == []  # nor does an unknown type
    assert unreachable_steps(f, handlers) == ["c"]
    assert unreachable_steps(f) == ["b", "c"]  # without handlers only transitions count


def test_handlers_register_from_functions_and_classes() -> None:
    @handler("fn")
    async def fn(params: HandlerParams) -> StepResult:
        return Result.success()

    class Charge:
        type = "charge"

        async def execute(self, params: HandlerParams) -> StepResult:
            return Result.success()

    registry = HandlerRegistry([fn, Charge()])
    assert registry.types() == ["charge", "fn"]
    with pytest.raises(Exception, match="no handler registered for type 'nope'"):
        registry.get("nope")
    with pytest.raises(TypeError, match="needs a 'type'"):
        registry.register(object())  # type: ignore[arg-type]


def test_handler_decorator_refuses_sync_functions() -> None:
    with pytest.raises(TypeError, match="must be 'async def'"):

        @handler("sync")  # type: ignore[arg-type]
        def sync(params: HandlerParams) -> StepResult:
            return Result.success()
