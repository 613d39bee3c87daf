"""Pure state changes of an :class:`Execution`, shared by the engine's operations.

Every function here reads an execution and returns the fields that would change (a
dict), never touching the execution itself. :func:`seal` turns those fields into a
:class:`~flowmonkey.change.Change`: it is the one place where a revision is bumped and
the derived fields (``updated_at``, ``step_count``, ``timeout_at``) are kept true.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flowmonkey.change import Change
from flowmonkey.errors import ErrorCode
from flowmonkey.model import (
    Cancellation,
    Execution,
    ExecutionError,
    ExecutionStatus,
    RetryPolicy,
    StepRecord,
    WaitKind,
)

Fields = dict[str, Any]
_WAIT_FIELDS = ("wake_at", "wait_kind", "wait_reason", "waiting_since")
_TERMINAL = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)
_COMPLETED, _RUNNING = ExecutionStatus.COMPLETED, ExecutionStatus.RUNNING  # (see engine.pipeline)


def next_revision(execution: Execution) -> int:
    """The revision the next commit of ``execution`` writes (and its record's sequence)."""
    return execution.revision + 1


def seal(
    execution: Execution,
    fields: Fields,
    now: datetime,
    record: StepRecord | None = None,
    *,
    step: bool = True,
) -> Change:
    """The change of ``execution`` to ``fields``: the next revision, ``updated_at = now``,
    one more step when ``step`` (a wake or a cancel runs no step), and ``timeout_at``
    recomputed from the state the change leads to."""
    fields["revision"] = execution.revision + 1  # what next_revision() says, inline: every step
    fields["updated_at"] = now
    if step:
        fields["step_count"] = execution.step_count + 1
    parent = _parent_to_wake(execution, fields) if execution.parent_execution_id is not None else None
    change = Change(execution, fields, record, parent)
    timeout = execution.timeout
    if timeout.execution is not None or timeout.wait is not None or execution.timeout_at is not None:
        deadline = timeout_at(change)
        if deadline != execution.timeout_at:
            fields["timeout_at"] = deadline
    return change


def _parent_to_wake(execution: Execution, fields: Fields) -> str | None:
    """The parent a change wakes: it ends a child (but not one its parent cancels)."""
    parent = execution.parent_execution_id
    if parent is None or fields.get("status") not in _TERMINAL:
        return None
    cancellation = fields.get("cancellation")
    return None if cancellation is not None and cancellation.source == "parent" else parent


def timeout_at(change: Change) -> datetime | None:
    """The earliest of the execution deadline and the deadline of the current wait."""
    timeout = change.base.timeout
    if timeout.execution is None and timeout.wait is None:
        return None
    value = change.value
    status = value("status")
    deadlines = []
    if timeout.execution is not None and status not in _TERMINAL:
        deadlines.append(change.base.created_at + timeout.execution)
    since = value("waiting_since")
    if (
        timeout.wait is not None
        and status is ExecutionStatus.WAITING
        and value("wait_kind") is WaitKind.HANDLER
        and since is not None
    ):
        deadlines.append(since + timeout.wait)
    return min(deadlines) if deadlines else None


def initial_timeout_at(execution: Execution) -> datetime | None:
    """``timeout_at`` of a new execution (its execution deadline, if any)."""
    limit = execution.timeout.execution
    return execution.created_at + limit if limit is not None else None


def timeout_reason(execution: Execution, now: datetime) -> str:
    if execution.timeout.execution is not None and execution.created_at + execution.timeout.execution <= now:
        return f"execution timeout of {execution.timeout.execution.total_seconds():g}s passed"
    wait = execution.timeout.wait.total_seconds() if execution.timeout.wait else 0
    return f"wait timeout of {wait:g}s passed at step {execution.current_step_id!r}"


def _clear_wait(execution: Execution, fields: Fields) -> Fields:
    e = execution
    if (
        e.wake_at is not None
        or e.wait_kind is not None
        or e.wait_reason is not None
        or e.waiting_since is not None
    ):
        for name in _WAIT_FIELDS:
            if getattr(execution, name) is not None:
                fields[name] = None
    return fields


def moved(execution: Execution, target: str | None, now: datetime, fields: Fields | None = None) -> Fields:
    """Go on to step ``target`` (``None``: the execution completes) at a first attempt."""
    fields = _clear_wait(execution, fields if fields is not None else {})
    if execution.attempt != 1:
        fields["attempt"] = 1
    if execution.delivery != 1:
        fields["delivery"] = 1
    if target is None:
        fields["status"] = _COMPLETED
        fields["completed_at"] = now
        return fields
    if execution.status is not _RUNNING:
        fields["status"] = _RUNNING
    fields["current_step_id"] = target
    fields["visit"] = execution.revision + 1  # next_revision(): a new visit, even of the same step
    return fields


def waiting(execution: Execution, wake_at: datetime | None, reason: str | None, now: datetime) -> Fields:
    """Park at the current step until ``wake_at`` or a resume. A wait that continues a
    handler wait keeps its ``waiting_since`` (the wait timeout runs from the first)."""
    fields: Fields = {"wake_at": wake_at, "wait_reason": reason}
    if execution.status is not ExecutionStatus.WAITING or execution.wait_kind is not WaitKind.HANDLER:
        fields["status"] = ExecutionStatus.WAITING
        fields["wait_kind"] = WaitKind.HANDLER
        fields["waiting_since"] = now
    return fields


def retrying(execution: Execution, retry: RetryPolicy, now: datetime) -> tuple[Fields, timedelta]:
    """Park a failed attempt durably until its backoff passes; also returns the backoff."""
    failed_attempt = execution.attempt
    delay = retry.delay(failed_attempt)
    fields: Fields = {
        "attempt": failed_attempt + 1,
        "delivery": 1,
        "status": ExecutionStatus.WAITING,
        "wait_kind": WaitKind.RETRY,
        "wake_at": now + delay,
        "waiting_since": now,
        "wait_reason": f"retry {failed_attempt}/{retry.max_attempts - 1}",
    }
    return fields, delay


def failed(
    execution: Execution, error: ExecutionError, now: datetime, fields: Fields | None = None
) -> Fields:
    """End the execution as failed with ``error``."""
    fields = _clear_wait(execution, fields if fields is not None else {})
    fields["status"] = ExecutionStatus.FAILED
    fields["error"] = error
    fields["completed_at"] = now
    return fields


def held(execution: Execution, error: ExecutionError) -> Fields:
    """Park the execution at its failed step for an operator, with ``error``."""
    fields = _clear_wait(execution, {})
    fields["status"] = ExecutionStatus.HELD
    fields["error"] = error
    return fields


def cancelled(execution: Execution, source: str, reason: str | None, now: datetime) -> tuple[Fields, str]:
    """End the execution as cancelled by ``source``; also returns the history note."""
    note = f"cancelled by {source}" + (f": {reason}" if reason else "")
    fields = _clear_wait(execution, {})
    fields["status"] = ExecutionStatus.CANCELLED
    fields["cancellation"] = Cancellation(source=source, reason=reason, at=now)
    fields["error"] = ExecutionError(
        code=ErrorCode.CANCELLED, message=note, step_id=execution.current_step_id
    )
    fields["completed_at"] = now
    return fields, note


def woken(now: datetime) -> Fields:
    """Make a handler wait due now (its step runs again, ``woken_by == "timer"``)."""
    return {"wake_at": now}
