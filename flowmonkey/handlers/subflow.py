"""``subflow``: run another flow as a child and continue with its result.

Config: ``flowId``, optional ``version``. The child's context is the step's input (an
object). The parent waits durably; when the child finishes the engine wakes the parent,
and this step succeeds with the child's final context, or fails with ``CHILD_FAILED``.
The child is created idempotently per (parent, step, attempt), so a re-run never starts
a second child.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowmonkey.errors import ErrorCode
from flowmonkey.model import ExecutionStatus
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"flowId": {"type": "string"}, "version": {"type": "string"}},
    "required": ["flowId"],
    "additionalProperties": False,
}


@handler("subflow", config_schema=CONFIG_SCHEMA, error_codes=[ErrorCode.CHILD_FAILED])
async def subflow(params: HandlerParams) -> StepResult:
    """Start (or look at) the child execution and wait for it."""
    child_input = params.input if params.input is not None else {}
    if not isinstance(child_input, Mapping):
        return Result.failure(
            "INPUT_ERROR", f"subflow input must be an object, got {type(child_input).__name__}"
        )
    child = await params.children.start(
        params.config["flowId"],
        child_input,
        key=f"subflow:{params.idempotency_key}",
        version=params.config.get("version"),
    )
    if child.status is ExecutionStatus.COMPLETED:
        return Result.success(child.context)
    if child.is_terminal:
        error = child.error.to_dict() if child.error else None
        return Result.failure(
            ErrorCode.CHILD_FAILED,
            f"child {child.id} ({child.flow_id}) {child.status.value}: {error and error['message']}",
            {"child_execution_id": child.id, "error": error},
        )
    return Result.wait(reason=f"child {child.id} ({child.flow_id})")
