"""Pure changes to an :class:`Execution`'s state, shared by the engine's operations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flowmonkey.errors import ErrorCode
from flowmonkey.model import (
    Cancellation,
    Execution,
    ExecutionError,
    ExecutionStatus,
    RetryPolicy,
    StepRecord,
    StepStatus,
    WaitKind,
)

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


def mark_cancelled(execution: Execution, source: str, reason: str | None, now: datetime) -> StepRecord:
    """Make ``execution`` cancelled (next revision) and return the history record for it."""
    message = f"cancelled by {source}" + (f": {reason}" if reason else "")
    execution.revision += 1
    execution.status = ExecutionStatus.CANCELLED
    execution.cancellation = Cancellation(source=source, reason=reason, at=now)
    execution.error = ExecutionError(
        code=ErrorCode.CANCELLED, message=message, step_id=execution.current_step_id
    )
    execution.completed_at = execution.updated_at = now
    clear_wait(execution)
    execution.timeout_at = None
    return StepRecord(
        execution_id=execution.id,
        sequence=execution.revision,
        step_id=execution.current_step_id,
        attempt=execution.attempt,
        outcome=StepStatus.CANCELLED,
        started_at=now,
        finished_at=now,
        note=message,
    )


def schedule_retry(execution: Execution, retry: RetryPolicy, now: datetime) -> timedelta:
    """Park a failed attempt durably until its backoff passes; returns the backoff."""
    failed_attempt = execution.attempt
    delay = retry.delay(failed_attempt)
    execution.attempt += 1
    execution.status = ExecutionStatus.WAITING
    execution.wait_kind = WaitKind.RETRY
    execution.wake_at = now + delay
    execution.waiting_since = now
    execution.wait_reason = f"retry {failed_attempt}/{retry.max_attempts - 1}"
    return delay


def mark_failed(execution: Execution, error: ExecutionError, now: datetime) -> None:
    """End ``execution`` as failed with ``error``."""
    execution.status = ExecutionStatus.FAILED
    execution.error = error
    execution.completed_at = now
    clear_wait(execution)
