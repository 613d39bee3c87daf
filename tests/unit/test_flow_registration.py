"""Flows built in code get the checks flow files get: every step's config against its
handler's ``config_schema``, and the step ids it names, whenever a flow is registered with
an engine (``Engine(..., flows)``, ``engine.flows.register``, a given ``FlowRegistry``,
``TestHarness``, ``FlowDirectory``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowmonkey import (
    Engine,
    ExecutionStatus,
    Flow,
    FlowDirectory,
    FlowError,
    HandlerParams,
    MemoryStore,
    Result,
    StepConfigError,
    StepResult,
    handler,
)
from flowmonkey.registry import FlowRegistry, HandlerRegistry
from flowmonkey.testing import TestHarness


def node_conditional(default: str = "standard") -> dict[str, Any]:
    """A ``conditional`` step written with the Node project's keys: it must not silently
    take the default branch."""
    return {
        "id": "route-order",
        "version": "1.0.0",
        "initialStepId": "route",
        "steps": {
            "route": {
                "type": "conditional",
                "config": {
                    "conditions": [{"path": "order.total", "op": "gt", "value": 100, "target": "express"}],
                    "default": default,
                },
            },
            "express": {"type": "log", "config": {"message": "express"}},
            "standard": {"type": "log", "config": {"message": "standard"}},
        },
    }


NODE_SAYS = (
    "flow 'route-order' 1.0.0: "
    """step 'route': config at $: missing required key "rules"; """
    """step 'route': config at $.conditions: unknown key "conditions\""""
)


def test_a_conditional_in_the_node_format_is_refused_when_the_engine_is_built() -> None:
    with pytest.raises(StepConfigError) as caught:
        Engine(MemoryStore(), flows=[Flow.from_dict(node_conditional())])
    assert str(caught.value) == NODE_SAYS
    assert isinstance(caught.value, FlowError)
    assert caught.value.details["problems"][1] == {
        "step": "route",
        "path": ["config", "conditions"],
        "message": 'unknown key "conditions"',
    }


async def test_registering_later_is_checked_too_and_changes_nothing() -> None:
    engine = Engine(MemoryStore())
    with pytest.raises(StepConfigError, match=r"config at \$.conditions: unknown key"):
        engine.flows.register(Flow.from_dict(node_conditional()))
    assert "route-order" not in engine.flows


def test_a_registry_handed_to_an_engine_is_checked_whole() -> None:
    registry = FlowRegistry([Flow.from_dict(node_conditional())])  # no handlers known yet: accepted
    with pytest.raises(StepConfigError, match="route-order"):
        Engine(MemoryStore(), flows=registry)


def test_the_test_harness_checks_its_flows() -> None:
    with pytest.raises(StepConfigError, match="route-order"):
        TestHarness(flows=[node_conditional()])


def test_a_step_id_the_config_names_must_exist() -> None:
    flow = Flow.from_dict(
        {
            "id": "f",
            "initialStepId": "route",
            "steps": {
                "route": {
                    "type": "conditional",
                    "config": {"rules": [{"path": "x", "op": "exists", "next": "shipp"}], "default": "ship"},
                },
                "ship": {"type": "log", "config": {}},
            },
        }
    )
    with pytest.raises(StepConfigError) as caught:
        Engine(MemoryStore(), flows=[flow])
    assert str(caught.value) == (
        """flow 'f' 1.0.0: step 'route': config at $.rules[0].next: no step "shipp" (did you mean "ship"?)"""
    )


CHECKED: list[str] = []


@handler("charge", config_schema={"type": "object", "properties": {"currency": {"enum": ["EUR", "USD"]}}})
async def charge(params: HandlerParams) -> StepResult:
    return Result.success({"charged": params.config.get("currency")})


def charge_flow(currency: str) -> Flow:
    steps = {"pay": {"type": "charge", "config": {"currency": currency}}}
    return Flow.from_dict({"id": f"pay-{currency.lower()}", "initialStepId": "pay", "steps": steps})


async def test_a_custom_handlers_schema_is_checked_with_one_compiled_validator() -> None:
    engine = Engine(MemoryStore(), [charge], [charge_flow("EUR")])
    validator = engine.handlers.config_validator("charge")
    engine.flows.register(charge_flow("USD"))
    assert engine.handlers.config_validator("charge") is validator  # compiled once per handler
    with pytest.raises(StepConfigError, match=r"step 'pay': config at \$.currency: expected one of"):
        engine.flows.register(charge_flow("GBP"))
    execution, _ = await engine.create("pay-usd")
    assert (await engine.run(execution.id)).status is ExecutionStatus.COMPLETED


def test_a_replaced_handler_gets_its_own_validator() -> None:
    handlers = HandlerRegistry([charge])
    first = handlers.config_validator("charge")
    handlers.register(charge)
    assert (
        handlers.config_validator("charge") is not first and handlers.config_validator("charge") is not None
    )
    handlers.unregister("charge")
    assert handlers.config_validator("charge") is None


async def test_a_type_no_handler_is_registered_for_still_fails_at_run_time() -> None:
    flow = Flow.from_dict(
        {"id": "f", "initialStepId": "a", "steps": {"a": {"type": "nobody", "config": {"x": 1}}}}
    )
    engine = Engine(MemoryStore(), flows=[flow])
    execution, _ = await engine.create("f")
    final = await engine.run(execution.id)
    assert final.status is ExecutionStatus.FAILED and final.error is not None
    assert final.error.code == "HANDLER_NOT_FOUND"


NODE_FILE = """\
{"id": "route-order", "initialStepId": "route", "steps": {
  "route": {"type": "conditional", "config": {"conditions": [], "default": "standard"}},
  "standard": {"type": "log", "config": {}}}}
"""


async def test_a_flow_directory_reports_it_at_its_place_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "route.json").write_text(NODE_FILE)
    engine = Engine(MemoryStore())
    directory = FlowDirectory(tmp_path, engine)
    await directory.load()
    assert "route-order" not in engine.flows
    assert [str(p) for p in directory.problems] == [
        f'{tmp_path / "route.json"}:2:36: steps.route.config: missing required key "rules"',
        f'{tmp_path / "route.json"}:2:47: steps.route.config.conditions: unknown key "conditions"',
    ]
