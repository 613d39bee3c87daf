"""Handlers and flow builders shared by the unit tests."""

from __future__ import annotations

from typing import Any

from flowmonkey import HandlerParams, Result, StepResult, handler


@handler("echo")
async def echo(params: HandlerParams) -> StepResult:
    return Result.success(params.input)


@handler("add")
async def add(params: HandlerParams) -> StepResult:
    return Result.success(params.input + params.config.get("by", 1))


@handler("fail")
async def fail(params: HandlerParams) -> StepResult:
    return Result.failure(params.config.get("code", "BOOM"), params.config.get("message", "it broke"))


@handler("wait")
async def wait(params: HandlerParams) -> StepResult:
    return Result.wait(reason=params.config.get("reason", "waiting for a person"))


@handler("crash")
async def crash(params: HandlerParams) -> StepResult:
    raise RuntimeError("handler crashed")


def chain(flow_id: str, types: list[str], **step_options: Any) -> dict[str, Any]:
    """A straight flow s0 -> s1 -> ... of the given handler types."""
    steps = {}
    for i, step_type in enumerate(types):
        nxt = f"s{i + 1}" if i + 1 < len(types) else None
        steps[f"s{i}"] = {"type": step_type, "transitions": {"onSuccess": nxt}, **step_options}
    return {"id": flow_id, "version": "1.0.0", "initialStepId": "s0", "steps": steps}


BASIC = [echo, add, fail, wait, crash]
