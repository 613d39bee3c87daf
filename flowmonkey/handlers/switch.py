"""``switch``: route to a step by the value at a path.

Config: ``path`` (dot path into the context; without it the step's input is the value),
``cases`` (value -> step id; values compare as text, so ``true`` matches ``"true"``),
``default`` (step id when no case matches; without it no match is a failure ``NO_MATCH``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from flowmonkey.inputs import get_path
from flowmonkey.params import HandlerParams
from flowmonkey.registry import StepRef, handler
from flowmonkey.result import Result, StepResult

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "dot path into the context"},
        "cases": {"type": "object", "additionalProperties": {"type": "string"}},
        "default": {"type": "string"},
    },
    "required": ["cases"],
    "additionalProperties": False,
}


def step_refs(config: Mapping[str, Any]) -> Iterator[StepRef]:
    """The step ids a switch names: each case's, and the default."""
    cases = config.get("cases")
    for case, target in cases.items() if isinstance(cases, Mapping) else ():
        if isinstance(target, str):
            yield ("cases", str(case)), target
    if isinstance(config.get("default"), str):
        yield ("default",), config["default"]


def case_key(value: Any) -> str:
    """The text a value matches in ``cases``."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


@handler("switch", config_schema=CONFIG_SCHEMA, step_refs=step_refs, error_codes=["NO_MATCH"])
async def switch(params: HandlerParams) -> StepResult:
    """Pick the next step by the value at ``path``."""
    path = params.config.get("path")
    value = get_path(params.execution.context, path) if path else params.input
    cases = params.config.get("cases") or {}
    target = cases.get(case_key(value), params.config.get("default"))
    if target is None:
        known = ", ".join(sorted(cases))
        return Result.failure("NO_MATCH", f"switch: no case for {case_key(value)!r} (cases: {known})")
    return Result.success({"value": value, "next": target}, next_step=target)
