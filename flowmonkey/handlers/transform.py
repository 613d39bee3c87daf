"""``transform``: reshape the step's input without code.

Config, applied in this order to the input object: ``pick`` (keep only these keys),
``omit`` (drop these keys), ``rename`` (old -> new), ``merge`` (an object whose
``${...}`` templates are rendered against the context, then merged in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowmonkey.inputs import render
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pick": {"type": "array", "items": {"type": "string"}},
        "omit": {"type": "array", "items": {"type": "string"}},
        "rename": {"type": "object", "additionalProperties": {"type": "string"}},
        "merge": {"type": "object"},
    },
    "additionalProperties": False,
}


@handler("transform", config_schema=CONFIG_SCHEMA, error_codes=[])
async def transform(params: HandlerParams) -> StepResult:
    """Pick, omit, rename and merge keys of the input."""
    data = params.input
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        return Result.failure("INPUT_ERROR", f"transform needs an object input, got {type(data).__name__}")
    out: dict[str, Any] = dict(data)
    config = params.config
    if "pick" in config:
        out = {key: out[key] for key in config["pick"] if key in out}
    for key in config.get("omit", ()):
        out.pop(key, None)
    for old, new in (config.get("rename") or {}).items():
        if old in out:
            out[new] = out.pop(old)
    merge = config.get("merge")
    if merge:
        out.update(render(merge, params.execution.context))
    return Result.success(out)
