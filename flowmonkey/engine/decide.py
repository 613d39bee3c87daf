"""What a step's outcome changes: from a handler's :class:`StepResult` to one
:class:`~flowmonkey.change.Change`, built where the decision is made.

Pure functions of the state that was read; nothing here touches the execution or the
store. The pipeline commits the change they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowmonkey import jsonvalues
from flowmonkey.change import Change
from flowmonkey.engine.limits import Limits, is_small
from flowmonkey.errors import ErrorCode
from flowmonkey.inputs import undo_of, with_value
from flowmonkey.model import Execution, ExecutionError, Flow, Step, StepRecord, StepStatus
from flowmonkey.result import Result, ResultKind, StepResult
from flowmonkey.state import Fields, failed, held, moved, retrying, seal, waiting

# (Module constants on the step path: see flowmonkey.engine.pipeline.)
_FAILURE, _WAIT, _COMPLETED = ResultKind.FAILURE, ResultKind.WAIT, StepStatus.COMPLETED


@dataclass(frozen=True, slots=True)
class StepRun:
    """One run of one step: the facts its history record is built from."""

    execution: Execution
    flow: Flow
    step: Step
    started: datetime
    input: Any = None

    def record(
        self,
        outcome: StepStatus,
        finished: datetime,
        *,
        output: Any = None,
        error: ExecutionError | None = None,
        next_step: str | None = None,
        note: str | None = None,
        undo: Any = None,
    ) -> StepRecord:
        execution = self.execution
        return StepRecord(
            execution_id=execution.id,
            sequence=execution.revision + 1,  # next_revision(), inline: every step
            step_id=self.step.id,
            attempt=execution.attempt,
            outcome=outcome,
            started_at=self.started,
            finished_at=finished,
            input=self.input,
            output=output,
            error=error,
            next_step_id=next_step,
            note=note,
            visit=execution.visit,
            undo=undo,
        )


def decide(run: StepRun, result: StepResult, finished: datetime, limits: Limits) -> Change:
    """The change a handler's result makes."""
    kind = result.kind
    if kind is _FAILURE:
        return failure(run, result, finished)
    if kind is _WAIT:
        return wait(run, result, finished)
    return success(run, result, finished, limits)


def success(run: StepRun, result: StepResult, finished: datetime, limits: Limits) -> Change:
    """Store the output at ``outputKey`` and go on (``next_step`` overrides ``onSuccess``)."""
    step, execution = run.step, run.execution
    target = result.next_step if result.next_step is not None else step.transitions.on_success
    if target is not None and target not in run.flow.steps:
        message = f"step {step.id!r} chose next step {target!r}, which flow {run.flow.id!r} does not have"
        return failure(run, Result.failure(ErrorCode.INVALID_TRANSITION, message), finished, final=True)
    if (poison := output_problem(step, result.output)) is not None:
        return failure(run, poison, finished)
    fields: Fields = {}
    undo = None
    if step.output_key:
        undo = store_at(execution, step.output_key, result.output, fields)
        if not is_small(result.output) and not limits.fits(fields["context"]):
            message = (
                f"output of step {step.id!r} would grow the context past {limits.max_context_bytes} bytes"
            )
            return failure(run, Result.failure(ErrorCode.CONTEXT_LIMIT, message), finished, final=True)
    moved(execution, target, finished, fields)
    record = run.record(_COMPLETED, finished, output=result.output, next_step=target, undo=undo)
    return seal(execution, fields, finished, record)


def store_at(execution: Execution, key: str, value: Any, fields: Fields) -> dict[str, Any]:
    """Put ``value`` at the dot path ``key`` of the context (in ``fields``); returns how to
    take it back (the record keeps it, so a retry or a fork can rebuild earlier contexts)."""
    context = fields.get("context", execution.context)
    undo = undo_of(context, key)
    fields["context"] = with_value(context, key, value)
    return undo


def output_problem(step: Step, output: Any) -> StepResult | None:
    """``OUTPUT_NOT_JSON`` (a failure like any other) if the output cannot be stored; the
    path names the offending value where it would have gone in the context."""
    if output is None or output is True or output is False:
        return None
    root = jsonvalues.dotted(step.output_key) if step.output_key else "$"
    found = jsonvalues.problem(output, root)
    if found is None:
        return None
    message = f"the output of step {step.id!r} is not JSON: {found}"
    return Result.failure(ErrorCode.OUTPUT_NOT_JSON, message, {"path": found.path, "reason": found.reason})


def wait(run: StepRun, result: StepResult, finished: datetime) -> Change:
    """Park at this step until ``wake_at`` or a resume."""
    execution, step = run.execution, run.step
    reason = jsonvalues.storable_text(result.wait_reason)
    fields = waiting(execution, result.wake_at, reason, finished)
    record = run.record(StepStatus.WAITING, finished, next_step=step.id, note=reason)
    return seal(execution, fields, finished, record)


def failure(run: StepRun, result: StepResult, finished: datetime, *, final: bool = False) -> Change:
    """Retry durably if the policy allows, else store the error at ``errorKey`` and follow
    ``onFailure``, else fail the execution. ``final`` failures skip retry and onFailure."""
    execution, step = run.execution, run.step
    error = ExecutionError(
        code=jsonvalues.storable_text(result.error_code) or ErrorCode.STEP_FAILED,
        message=jsonvalues.storable_text(result.error_message) or "",
        step_id=step.id,
        details=_storable_details(result.error_details),
    )
    retry = step.retry
    if not final and retry is not None and retry.allows(error.code, execution.attempt):
        fields, delay = retrying(execution, retry, finished)
        note = f"{fields['wait_reason']} in {delay.total_seconds():g}s"
        record = run.record(StepStatus.RETRY, finished, error=error, next_step=step.id, note=note)
        return seal(execution, fields, finished, record)
    if run.flow.holds(step):
        record = run.record(
            StepStatus.HELD, finished, error=error, next_step=step.id, note="held for an operator"
        )
        return seal(execution, held(execution, error), finished, record)
    return given_up(run, error, finished, final=final)


def given_up(
    run: StepRun, error: ExecutionError, finished: datetime, *, final: bool = False, note: str | None = None
) -> Change:
    """Store the error at ``errorKey`` and follow ``onFailure`` (unless ``final``), else
    fail the execution: what a failure does once nothing will retry or hold it."""
    execution, step = run.execution, run.step
    fields: Fields = {}
    undo = store_at(execution, step.error_key, error.to_dict(), fields) if step.error_key else None
    target = None if final else step.transitions.on_failure_of(error.code)
    if target is not None:
        moved(execution, target, finished, fields)
    else:
        failed(execution, error, finished, fields)
    record = run.record(StepStatus.FAILED, finished, error=error, next_step=target, undo=undo, note=note)
    return seal(execution, fields, finished, record)


def _storable_details(details: Any) -> Any:
    """A failure's details as given, or, if a store could not hold them, what was wrong."""
    found = jsonvalues.problem(details, "$.details") if details is not None else None
    return details if found is None else {"unstorable": str(found)}


def resumed(run: StepRun, data: Any, limits: Limits) -> Change:
    """A resume: ``data`` is the waiting step's output; follow ``onResume``, else
    ``onSuccess``. Raises :class:`~flowmonkey.errors.ContextLimitError` if it does not fit."""
    execution, step, now = run.execution, run.step, run.started
    target = step.transitions.on_resume or step.transitions.on_success
    fields: Fields = {}
    undo = None
    if step.output_key:
        undo = store_at(execution, step.output_key, data, fields)
        limits.check(fields["context"])
    moved(execution, target, now, fields)
    record = run.record(StepStatus.RESUMED, now, output=data, next_step=target, undo=undo)
    return seal(execution, fields, now, record)
