"""Pure changes to an :class:`Execution`'s state, shared by the engine's operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowmonkey.model import Execution, ExecutionStatus, WaitKind

_SMALL_TYPES = (int, float, bool, type(None))


def is_small_output(value: Any) -> bool:
    """Whether an output is too small to matter for the context limit. Serialising the
    whole context after every step would cost more than the rest of the step."""
    if isinstance(value, str):
        return len(value) <= 256
    return isinstance(value, _SMALL_TYPES)


def with_value(context: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``context`` with ``value`` at the dot path ``key``; the original is kept."""
    fresh = dict(context)
    if "." not in key:
        fresh[key] = value
        return fresh
    head, rest = key.split(".", 1)
    child = fresh.get(head)
    fresh[head] = with_value(child if isinstance(child, dict) else {}, rest, value)
    return fresh


def move_to(execution: Execution, target: str | None, now: datetime) -> None:
    clear_wait(execution)
    execution.attempt = 1
    if target is None:
        execution.status = ExecutionStatus.COMPLETED
        execution.completed_at = now
    else:
        execution.status = ExecutionStatus.RUNNING
        execution.current_step_id = target


def clear_wait(execution: Execution) -> None:
    execution.wake_at = None
    execution.wait_kind = None
    execution.wait_reason = None
    execution.waiting_since = None


def refresh_timeout(execution: Execution) -> None:
    """``timeout_at`` is the earliest of the execution deadline and the wait deadline."""
    deadlines = []
    if execution.timeout.execution is not None and not execution.is_terminal:
        deadlines.append(execution.created_at + execution.timeout.execution)
    if (
        execution.timeout.wait is not None
        and execution.status is ExecutionStatus.WAITING
        and execution.wait_kind is WaitKind.HANDLER
        and execution.waiting_since is not None
    ):
        deadlines.append(execution.waiting_since + execution.timeout.wait)
    execution.timeout_at = min(deadlines) if deadlines else None


def timeout_reason(execution: Execution, now: datetime) -> str:
    if execution.timeout.execution is not None and execution.created_at + execution.timeout.execution <= now:
        return f"execution timeout of {execution.timeout.execution.total_seconds():g}s passed"
    wait = execution.timeout.wait.total_seconds() if execution.timeout.wait else 0
    return f"wait timeout of {wait:g}s passed at step {execution.current_step_id!r}"
