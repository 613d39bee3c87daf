"""Fix and continue: an operator retries a failed, cancelled or held execution from the
step that stopped it, skips a held step with an output of their own, or fails it.

A retry continues the same execution (its id, idempotency key, parent and children stay)
at the step that failed, with the context as it was when that step started, rebuilt from
the history (:mod:`.contexts`); steps that succeeded do not run again. Every action is
one compare-and-set, so two operators racing act once, and the history records who did
what and when.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from flowmonkey import jsonvalues
from flowmonkey.change import Change
from flowmonkey.engine.clock import Clock
from flowmonkey.engine.commits import COMMIT_RETRIES, Committer
from flowmonkey.engine.contexts import context_before
from flowmonkey.engine.decide import StepRun, given_up, store_at
from flowmonkey.engine.definitions import Definitions
from flowmonkey.errors import ConflictError, ExecutionNotFoundError, NotRepairableError, ResumeDataError
from flowmonkey.model import Execution, ExecutionStatus, StepStatus
from flowmonkey.state import Fields, moved, seal
from flowmonkey.stores.base import ExecutionStore

RETRYABLE = (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.HELD)
ChangeOf = Callable[[StepRun], Awaitable[Change]]


class Repairs:
    """Retry, skip and fail, by an operator (``by`` names who, for the history)."""

    __slots__ = ("_clock", "_committer", "_definitions", "_store")

    def __init__(
        self,
        store: ExecutionStore,
        definitions: Definitions,
        committer: Committer,
        clock: Clock,
    ) -> None:
        self._store = store
        self._definitions = definitions
        self._committer = committer
        self._clock = clock

    async def retry(self, execution_id: str, by: str) -> Execution:
        """Continue a failed, cancelled or held execution from the step that stopped it."""
        return await self._act(execution_id, RETRYABLE, "retry", lambda run: self._retried(run, by))

    async def skip(self, execution_id: str, output: Any, by: str) -> Execution:
        """Give a held step ``output`` (checked against its ``outputSchema``) and go on
        along ``onSuccess``."""
        return await self._act(
            execution_id, (ExecutionStatus.HELD,), "skip", lambda run: _skipped(run, output, by)
        )

    async def fail(self, execution_id: str, by: str) -> Execution:
        """Fail a held step: ``errorKey``, then ``onFailure`` as before, else failed."""
        return await self._act(execution_id, (ExecutionStatus.HELD,), "fail", lambda run: _failed(run, by))

    async def _act(
        self, execution_id: str, allowed: tuple[ExecutionStatus, ...], what: str, change_of: ChangeOf
    ) -> Execution:
        for _ in range(COMMIT_RETRIES):
            execution = await self._store.get_execution(execution_id)
            if execution is None:
                raise ExecutionNotFoundError(f"no execution {execution_id!r}")
            if execution.status not in allowed:
                states = ", ".join(s.value for s in allowed)
                raise NotRepairableError(
                    f"cannot {what} execution {execution_id}: it is {execution.status.value} (only {states})"
                )
            run = await self._run_of(execution)
            if await self._committer.commit(await change_of(run)):
                return execution
        raise ConflictError(f"could not {what} {execution_id}: it kept changing")

    async def _run_of(self, execution: Execution) -> StepRun:
        flow = await self._definitions.flow_of(execution)
        step_id = execution.current_step_id
        if step_id is None or step_id not in flow.steps:
            raise NotRepairableError(f"execution {execution.id} stopped at no step of flow {flow.id!r}")
        return StepRun(execution, flow, flow.steps[step_id], self._clock.now())

    async def _retried(self, run: StepRun, by: str) -> Change:
        execution, now = run.execution, run.started
        deadline = _execution_deadline(execution)
        if deadline is not None and deadline <= now:
            raise NotRepairableError(
                f"cannot retry execution {execution.id}: its execution timeout passed at {deadline.isoformat()}; "
                "fork it to run the step again with a new deadline"
            )
        history = await self._store.history(execution.id)
        before = context_before(execution.context, history, execution.visit)
        # A new visit of the step at its first attempt: the step's retry policy applies in
        # full again, and the handler gets a new idempotency key (per visit and attempt).
        fields: Fields = {"error": None, "completed_at": None, "cancellation": None}
        undo = None
        if before != execution.context:
            fields["context"] = before
            undo = {"path": "", "was": execution.context}
        moved(execution, run.step.id, now, fields)  # running again, at a first attempt
        record = run.record(
            StepStatus.RETRIED, now, next_step=run.step.id, note=f"retried by {by}", undo=undo
        )
        return seal(execution, fields, now, record, step=False)


async def _skipped(run: StepRun, output: Any, by: str) -> Change:
    execution, step, now = run.execution, run.step, run.started
    jsonvalues.check(output, what="the output")
    errors = jsonvalues.schema_errors(step.output_schema, output)
    if errors:
        listed = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise ResumeDataError(
            f"the output does not match the outputSchema of step {step.id!r}: {listed}",
            details={"errors": errors},
        )
    fields: Fields = {"error": None}
    undo = store_at(execution, step.output_key, output, fields) if step.output_key else None
    target = step.transitions.on_success
    moved(execution, target, now, fields)
    record = run.record(
        StepStatus.SKIPPED, now, output=output, next_step=target, note=f"skipped by {by}", undo=undo
    )
    return seal(execution, fields, now, record)


async def _failed(run: StepRun, by: str) -> Change:
    error = run.execution.error
    assert error is not None  # a held execution keeps the error that held it
    return given_up(run, error, run.started, note=f"failed by {by}")


def _execution_deadline(execution: Execution) -> datetime | None:
    limit = execution.timeout.execution
    return execution.created_at + limit if limit is not None else None
