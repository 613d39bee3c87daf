"""``approval``: wait for a person to resume the execution.

Config: ``message`` (``${...}`` templates rendered against the context), ``assignee``,
``deadline`` (a duration). The execution waits at this step until
``engine.resume(id, data)``; ``data`` becomes the step's output and the flow follows
``onResume`` (else ``onSuccess``). With a deadline, the wait has ``wake_at`` set: if the
runtime wakes the step past it, the step fails with ``WAIT_EXPIRED`` (so ``onFailure``
can escalate). The deadline is kept in the wait reason, so it survives restarts.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flowmonkey.durations import parse_duration
from flowmonkey.errors import ErrorCode
from flowmonkey.handlers.delay import parse_time
from flowmonkey.handlers.http import DURATION_SCHEMA
from flowmonkey.inputs import render
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "What the operator is asked; ${...} allowed."},
        "assignee": {"type": "string", "description": "Who should decide."},
        "deadline": DURATION_SCHEMA,
    },
    "additionalProperties": False,
}

_DEADLINE = re.compile(r"\[deadline (\S+)\]$")


def _reason(params: HandlerParams, deadline: datetime | None) -> str:
    message = render(params.config.get("message", "approval required"), params.execution.context)
    reason = f"approval: {message}"
    if params.config.get("assignee"):
        reason += f" (assignee {params.config['assignee']})"
    if deadline is not None:
        reason += f" [deadline {deadline.isoformat()}]"
    return reason


def _deadline(params: HandlerParams) -> datetime | None:
    """The deadline of the current wait, or a new one from the config on a first run."""
    if params.woken_by == "timer":
        match = _DEADLINE.search(params.execution.wait_reason or "")
        if match:
            return parse_time(match.group(1))
    if params.config.get("deadline") is None:
        return None
    return params.now + parse_duration(params.config["deadline"], where="approval.deadline")


@handler("approval", config_schema=CONFIG_SCHEMA, error_codes=[ErrorCode.WAIT_EXPIRED])
async def approval(params: HandlerParams) -> StepResult:
    """Wait for a resume; fail with WAIT_EXPIRED once the deadline has passed."""
    deadline = _deadline(params)
    if deadline is not None and params.woken_by == "timer" and params.now >= deadline:
        return Result.failure(
            ErrorCode.WAIT_EXPIRED,
            f"no decision before the deadline {deadline.isoformat()}",
            {"deadline": deadline.isoformat(), "assignee": params.config.get("assignee")},
        )
    return Result.wait(wake_at=deadline, reason=_reason(params, deadline))
