"""``delay``: a durable wait, for a duration or until a point in time.

Config: ``duration`` (``"5m"``, ``"2h"``, seconds) or ``until`` (an ISO 8601 time, with
``${...}`` templates rendered against the context; without a zone it is UTC).

The first run parks the execution with ``wake_at`` set; the target time is kept in the
wait reason (``delay until <iso>``), so when the runtime re-runs the step
(``woken_by == "timer"``) the handler succeeds once the target has passed and waits again
if it was woken early. Output: ``{"until": <iso>}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flowmonkey.durations import parse_duration
from flowmonkey.handlers.http import DURATION_SCHEMA
from flowmonkey.inputs import render
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult

REASON_PREFIX = "delay until "

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "duration": DURATION_SCHEMA,
        "until": {"type": "string", "description": "An ISO 8601 time; ${...} templates allowed."},
    },
    "description": "either a duration or an until time",
    "oneOf": [{"required": ["duration"]}, {"required": ["until"]}],
    "additionalProperties": False,
}


def parse_time(value: Any) -> datetime:
    """An aware datetime from ISO 8601 text (UTC when it names no zone)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _target(params: HandlerParams) -> datetime:
    """The wake time: the one this wait started with, else computed from the config."""
    reason = params.execution.wait_reason or ""
    if params.woken_by == "timer" and reason.startswith(REASON_PREFIX):
        try:
            return parse_time(reason.removeprefix(REASON_PREFIX))
        except ValueError:
            pass  # not ours after all: compute afresh
    if "until" in params.config:
        return parse_time(render(params.config["until"], params.execution.context))
    duration = render(params.config.get("duration", 0), params.execution.context)
    return params.now + parse_duration(duration, where="delay.duration")


@handler("delay", config_schema=CONFIG_SCHEMA, error_codes=["INVALID_CONFIG"])
async def delay(params: HandlerParams) -> StepResult:
    """Wait until the target time, durably."""
    try:
        target = _target(params)
    except ValueError as exc:
        return Result.failure("INVALID_CONFIG", f"delay: {exc}")
    if params.now >= target:
        return Result.success({"until": target.isoformat()})
    return Result.wait(wake_at=target, reason=f"{REASON_PREFIX}{target.isoformat()}")
