"""The engine: create, step, run, resume and cancel executions.

Every step ends in one conditional commit (compare-and-set on the revision that was
read): output at ``outputKey``, the next step, the status, one history record and
``revision + 1``. If a cancel or another worker committed first, the outcome is dropped.
Handlers therefore run at least once and state moves exactly once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from flowmonkey.errors import (
    ErrorCode,
    ExecutionNotFoundError,
    FlowError,
    FlowMonkeyError,
    NotWaitingError,
)
from flowmonkey.events import Event, EventBus, EventType
from flowmonkey.handlers import builtin_handlers
from flowmonkey.ids import new_id
from flowmonkey.inputs import resolve_input
from flowmonkey.invoke import failure_result, handler_params, invoke
from flowmonkey.model import (
    ACTIVE_STATUSES,
    Execution,
    ExecutionError,
    ExecutionStatus,
    Flow,
    Step,
    StepRecord,
    StepStatus,
    TimeoutConfig,
    WaitKind,
    utcnow,
)
from flowmonkey.params import HandlerParams, WokenBy
from flowmonkey.registry import FlowRegistry, Handler, HandlerRegistry
from flowmonkey.result import ResultKind, StepResult
from flowmonkey.state import (
    is_small_output,
    mark_cancelled,
    mark_failed,
    move_to,
    refresh_timeout,
    schedule_retry,
    timeout_reason,
    with_value,
)
from flowmonkey.stores.base import CreateResult, ExecutionQuery, Store

log = logging.getLogger("flowmonkey.engine")

DEFAULT_IDEMPOTENCY_TTL = timedelta(hours=24)
DEFAULT_MAX_CONTEXT_BYTES = 1024 * 1024
_COMMIT_RETRIES = 20

WakeListener = Callable[[str, datetime | None], None]


class StepOutcome(NamedTuple):
    """What :meth:`Engine.step` did: the execution after the step, its record, and
    whether the commit won (False: nothing was due, or another writer was first)."""

    execution: Execution
    record: StepRecord | None
    committed: bool


class CancelResult(NamedTuple):
    cancelled: bool
    previous_status: ExecutionStatus | None
    error: str | None = None
    children_cancelled: int = 0


class Engine:
    """Runs executions of registered flows against a :class:`Store`.

    Args:
        store: where executions live.
        handlers: a :class:`HandlerRegistry` (used as is) or handlers to register
            alongside the built-in ones.
        flows: a :class:`FlowRegistry` or flows to register.
        clock: returns the current aware datetime; injectable for tests.
        events: the bus to publish to (a new one by default).
        max_steps: steps an execution may take before it fails with ``MAX_STEPS``.
        max_context_bytes: JSON size of the context past which a step fails with
            ``CONTEXT_LIMIT`` (nothing of the oversized context is stored). Checked
            whenever a step stores an object, a list or a string over 256 characters.
    """

    def __init__(
        self,
        store: Store,
        handlers: HandlerRegistry | Iterable[Handler] | None = None,
        flows: FlowRegistry | Iterable[Flow] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        events: EventBus | None = None,
        max_steps: int = 1000,
        max_context_bytes: int = DEFAULT_MAX_CONTEXT_BYTES,
    ) -> None:
        self.store = store
        if not isinstance(handlers, HandlerRegistry):
            handlers = HandlerRegistry([*builtin_handlers(), *(handlers or ())])
        self.handlers = handlers
        self.flows = flows if isinstance(flows, FlowRegistry) else FlowRegistry(flows or ())
        self.events = events or EventBus()
        self.max_steps = max_steps
        self.max_context_bytes = max_context_bytes
        self._clock = clock
        self._skew = timedelta(0)
        self._saved_hashes: set[str] = set()
        self._definitions: dict[str, Flow] = {}
        self._wake_listeners: list[WakeListener] = []

    # -- time and signals -------------------------------------------------------------

    def now(self) -> datetime:
        """The engine's clock, including time skipped by ``run(simulate_time=True)``."""
        return self._clock() + self._skew

    def add_wake_listener(self, listener: WakeListener) -> Callable[[], None]:
        """Call ``listener(execution_id, wake_at)`` whenever an execution becomes runnable
        (``wake_at`` None) or schedules a wake. Runtimes use this to stop sleeping."""
        self._wake_listeners.append(listener)
        return lambda: self._wake_listeners.remove(listener)

    def _signal(self, execution_id: str, wake_at: datetime | None = None) -> None:
        for listener in self._wake_listeners:
            try:
                listener(execution_id, wake_at)
            except Exception:
                log.exception("wake listener failed")

    def _emit(self, kind: EventType, execution: Execution, step_id: str | None = None, **data: Any) -> None:
        if self.events.active:
            self.events.emit(
                Event(
                    type=kind,
                    at=self.now(),
                    execution_id=execution.id,
                    flow_id=execution.flow_id,
                    step_id=step_id,
                    data=data,
                )
            )

    # -- create -----------------------------------------------------------------------

    async def create(
        self,
        flow_id: str,
        context: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        idempotency_key: str | None = None,
        idempotency_ttl: timedelta = DEFAULT_IDEMPOTENCY_TTL,
        tenant_id: str | None = None,
        parent_execution_id: str | None = None,
        parent_step_id: str | None = None,
        timeout: TimeoutConfig | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> CreateResult:
        """Start an execution of the flow's latest (or given) version, pinned by hash.

        With an ``idempotency_key``, a second create in the same (tenant, flow) within
        ``idempotency_ttl`` returns the first execution with ``created=False``.
        """
        flow = self.flows.get(flow_id, version)
        context = dict(context or {})
        self._check_context_size(context)
        await self._save_definition(flow)
        now = self.now()
        timeout = timeout or TimeoutConfig(execution=flow.timeout)
        if timeout.execution is None and flow.timeout is not None:
            timeout = TimeoutConfig(execution=flow.timeout, wait=timeout.wait)
        execution = Execution(
            id=new_id(int(now.timestamp() * 1000)),
            flow_id=flow.id,
            flow_version=flow.version,
            flow_hash=flow.hash,
            status=ExecutionStatus.PENDING,
            current_step_id=flow.initial_step_id,
            context=context,
            created_at=now,
            updated_at=now,
            timeout=timeout,
            idempotency_key=idempotency_key,
            idempotency_expires_at=now + idempotency_ttl if idempotency_key else None,
            tenant_id=tenant_id,
            parent_execution_id=parent_execution_id,
            parent_step_id=parent_step_id,
            metadata=dict(metadata or {}),
        )
        refresh_timeout(execution)
        result = await self.store.create_execution(execution, now=now)
        if result.created:
            self._emit(EventType.EXECUTION_CREATED, result.execution, version=flow.version)
            self._signal(result.execution.id)
        else:
            self._emit(EventType.IDEMPOTENCY_HIT, result.execution, key=idempotency_key)
        return result

    async def _save_definition(self, flow: Flow) -> None:
        if flow.hash not in self._saved_hashes:
            await self.store.save_definition(flow)
            self._saved_hashes.add(flow.hash)
            self._definitions[flow.hash] = flow

    async def flow_of(self, execution: Execution) -> Flow:
        """The exact definition the execution started on (by hash), even if since replaced."""
        flow = self._definitions.get(execution.flow_hash) or self.flows.by_hash(execution.flow_hash)
        if flow is None:
            flow = await self.store.get_definition(execution.flow_hash)
        if flow is None:
            raise FlowError(
                f"definition {execution.flow_hash[:12]} of flow {execution.flow_id!r} "
                f"{execution.flow_version} is neither registered nor stored",
                code=ErrorCode.FLOW_NOT_FOUND,
            )
        self._definitions[flow.hash] = flow
        return flow

    # -- read -------------------------------------------------------------------------

    async def get(self, execution_id: str) -> Execution | None:
        return await self.store.get_execution(execution_id)

    async def _load(self, execution_id: str) -> Execution:
        execution = await self.store.get_execution(execution_id)
        if execution is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r}")
        return execution

    # -- step -------------------------------------------------------------------------

    async def step(self, execution_id: str, *, current: Execution | None = None) -> StepOutcome:
        """Run exactly one step of the execution, if one is due.

        ``current`` may pass the execution as this caller last committed it (the previous
        outcome's), which saves a read, as :meth:`run` does; if it is stale, the step's
        compare-and-set commit loses and nothing changes.
        """
        if current is None or current.id != execution_id:
            current = await self._load(execution_id)
        return await self._advance(current)

    async def _advance(self, execution: Execution) -> StepOutcome:
        if execution.is_terminal:
            return StepOutcome(execution, None, False)
        now = self.now()
        if execution.timeout_at is not None and execution.timeout_at <= now:
            await self._cancel_loaded(execution, "timeout", timeout_reason(execution, now))
            return StepOutcome(await self._load(execution.id), None, True)
        woken_by: WokenBy = None
        if execution.status is ExecutionStatus.WAITING:
            if execution.wake_at is None or execution.wake_at > now:
                return StepOutcome(execution, None, False)
            if execution.wait_kind is WaitKind.HANDLER:
                woken_by = "timer"
        flow = await self.flow_of(execution)
        assert execution.current_step_id is not None
        step = flow.step(execution.current_step_id)
        if execution.step_count >= self.max_steps:
            failure = failure_result(ErrorCode.MAX_STEPS, f"execution exceeded max_steps={self.max_steps}")
            return await self._commit_failure(execution, step, failure, now, now, None, final=True)
        if execution.step_count == 0 and execution.status is ExecutionStatus.PENDING:
            self._emit(EventType.EXECUTION_STARTED, execution)
        if self.events.active:
            self._emit(EventType.STEP_STARTED, execution, step.id, attempt=execution.attempt)
        step_input: Any = None
        try:
            step_input = resolve_input(step.input, execution.context)
            handler = self.handlers.get(step.type)
        except FlowMonkeyError as exc:
            result = failure_result(exc.code, exc.message, exc.details)
        else:
            result = await invoke(handler, handler_params(self, step, execution, step_input, now, woken_by))
            if result.error_code == ErrorCode.STEP_TIMEOUT:
                self._emit(EventType.STEP_TIMEOUT, execution, step.id, timeout=step.timeout)
        return await self._apply(execution, flow, step, result, step_input, now)

    async def _apply(
        self,
        execution: Execution,
        flow: Flow,
        step: Step,
        result: StepResult,
        step_input: Any,
        started: datetime,
    ) -> StepOutcome:
        finished = self.now()
        if result.kind is ResultKind.FAILURE:
            return await self._commit_failure(execution, step, result, started, finished, step_input)
        if result.kind is ResultKind.WAIT:
            return await self._commit_wait(execution, step, result, started, finished, step_input)
        target = result.next_step if result.next_step is not None else step.transitions.on_success
        if target is not None and target not in flow.steps:
            failure = failure_result(
                ErrorCode.INVALID_TRANSITION,
                f"step {step.id!r} chose next step {target!r}, which flow {flow.id!r} does not have",
            )
            return await self._commit_failure(
                execution, step, failure, started, finished, step_input, final=True
            )
        previous = execution.context
        if step.output_key:
            execution.context = with_value(previous, step.output_key, result.output)
            if not is_small_output(result.output) and not self._fits(execution.context):
                execution.context = previous
                failure = failure_result(
                    ErrorCode.CONTEXT_LIMIT,
                    f"output of step {step.id!r} would grow the context past {self.max_context_bytes} bytes",
                )
                return await self._commit_failure(
                    execution, step, failure, started, finished, step_input, final=True
                )
        attempt = execution.attempt
        move_to(execution, target, finished)
        return await self._commit(
            execution,
            step,
            StepStatus.COMPLETED,
            started,
            finished,
            step_input,
            result.output,
            None,
            target,
            attempt=attempt,
        )

    async def _commit_wait(
        self,
        execution: Execution,
        step: Step,
        result: StepResult,
        started: datetime,
        finished: datetime,
        step_input: Any,
    ) -> StepOutcome:
        if execution.status is not ExecutionStatus.WAITING or execution.wait_kind is not WaitKind.HANDLER:
            execution.waiting_since = finished
        execution.status = ExecutionStatus.WAITING
        execution.wait_kind = WaitKind.HANDLER
        execution.wake_at = result.wake_at
        execution.wait_reason = result.wait_reason
        return await self._commit(
            execution,
            step,
            StepStatus.WAITING,
            started,
            finished,
            step_input,
            None,
            None,
            step.id,
            note=result.wait_reason,
        )

    async def _commit_failure(
        self,
        execution: Execution,
        step: Step,
        failure: StepResult,
        started: datetime,
        finished: datetime,
        step_input: Any,
        *,
        final: bool = False,
    ) -> StepOutcome:
        error = ExecutionError(
            code=failure.error_code or ErrorCode.STEP_FAILED,
            message=failure.error_message or "",
            step_id=step.id,
            details=failure.error_details,
        )
        retry = step.retry
        if not final and retry is not None and retry.allows(error.code, execution.attempt):
            failed_attempt = execution.attempt
            delay = schedule_retry(execution, retry, finished)
            outcome = await self._commit(
                execution,
                step,
                StepStatus.RETRY,
                started,
                finished,
                step_input,
                None,
                error,
                step.id,
                note=f"{execution.wait_reason} in {delay.total_seconds():g}s",
                attempt=failed_attempt,
            )
            if outcome.committed and execution.wake_at is not None:
                self._emit(
                    EventType.STEP_RETRY,
                    execution,
                    step.id,
                    attempt=failed_attempt,
                    error=error.to_dict(),
                    wake_at=execution.wake_at.isoformat(),
                )
            return outcome
        if step.error_key:
            execution.context = with_value(execution.context, step.error_key, error.to_dict())
        target = None if final else step.transitions.on_failure
        attempt = execution.attempt
        if target is not None:
            move_to(execution, target, finished)
        else:
            mark_failed(execution, error, finished)
        return await self._commit(
            execution,
            step,
            StepStatus.FAILED,
            started,
            finished,
            step_input,
            None,
            error,
            target,
            attempt=attempt,
        )

    async def _commit(
        self,
        execution: Execution,
        step: Step,
        outcome: StepStatus,
        started: datetime,
        finished: datetime,
        step_input: Any,
        output: Any,
        error: ExecutionError | None,
        next_step_id: str | None,
        *,
        note: str | None = None,
        attempt: int | None = None,
    ) -> StepOutcome:
        expected = execution.revision
        execution.revision += 1
        execution.step_count += 1
        execution.updated_at = finished
        refresh_timeout(execution)
        record = StepRecord(
            execution_id=execution.id,
            sequence=execution.revision,
            step_id=step.id,
            attempt=attempt if attempt is not None else execution.attempt,
            outcome=outcome,
            started_at=started,
            finished_at=finished,
            input=step_input,
            output=output,
            error=error,
            next_step_id=next_step_id,
            note=note,
        )
        if not await self.store.commit(execution, expected_revision=expected, record=record):
            execution.revision -= 1
            execution.step_count -= 1
            return StepOutcome(execution, record, False)
        self._after_commit(execution, step, record)
        if execution.is_terminal and execution.parent_execution_id:
            await self.wake(execution.parent_execution_id)
        return StepOutcome(execution, record, True)

    def _after_commit(self, execution: Execution, step: Step, record: StepRecord) -> None:
        status = execution.status
        if not self.events.active and status is not ExecutionStatus.WAITING:
            return
        if record.outcome is StepStatus.COMPLETED or record.outcome is StepStatus.FAILED:
            kind = (
                EventType.STEP_COMPLETED if record.outcome is StepStatus.COMPLETED else EventType.STEP_FAILED
            )
            self._emit(kind, execution, step.id, attempt=record.attempt, duration_ms=record.duration_ms)
            if record.next_step_id is not None:
                self._emit(EventType.TRANSITION, execution, step.id, to=record.next_step_id)
        if status is ExecutionStatus.WAITING:
            self._emit(
                EventType.EXECUTION_WAITING,
                execution,
                step.id,
                reason=execution.wait_reason,
                wake_at=execution.wake_at.isoformat() if execution.wake_at else None,
            )
            self._signal(execution.id, execution.wake_at or execution.timeout_at)
        elif status is ExecutionStatus.COMPLETED:
            self._emit(EventType.EXECUTION_COMPLETED, execution)
        elif status is ExecutionStatus.FAILED:
            self._emit(
                EventType.EXECUTION_FAILED,
                execution,
                step.id,
                error=execution.error.to_dict() if execution.error else None,
            )

    # -- run --------------------------------------------------------------------------

    async def run(self, execution_id: str, *, simulate_time: bool = False) -> Execution:
        """Step the execution until it finishes or waits.

        A waiting parent's children are run too, so a test sees the whole tree finish.
        With ``simulate_time`` the engine's clock jumps over timer waits and backoffs.
        """
        execution = await self._load(execution_id)
        conflicts = 0
        while not execution.is_terminal:
            outcome = await self._advance(execution)
            if outcome.committed:
                execution = outcome.execution
                if execution.status is not ExecutionStatus.WAITING:
                    continue
            elif outcome.record is not None:
                conflicts += 1
                if conflicts > _COMMIT_RETRIES:
                    return await self._load(execution_id)
                execution = await self._load(execution_id)
                continue
            if not await self._drive_waiting(execution, simulate_time):
                break
            execution = await self._load(execution_id)
        return execution

    async def _drive_waiting(self, execution: Execution, simulate_time: bool) -> bool:
        """Make progress on a waiting execution in-process; False when only time or a
        person can move it on."""
        children = await self.store.list_executions(
            ExecutionQuery(parent_execution_id=execution.id, statuses=ACTIVE_STATUSES), limit=100
        )
        progressed = False
        for child in children.items:
            after = await self.run(child.id, simulate_time=simulate_time)
            progressed = progressed or after.revision != child.revision
        if progressed:
            await self.wake(execution.id)
            return True
        now = self.now()
        if execution.wake_at is not None and execution.wake_at <= now:
            return True
        if not simulate_time:
            return False
        due = [t for t in (execution.wake_at, execution.timeout_at) if t is not None]
        if not due:
            return False
        self._skew += max(min(due) - now, timedelta(0))
        return True

    # -- resume, wake -----------------------------------------------------------------

    async def resume(self, execution_id: str, data: Any = None) -> Execution:
        """Resume a waiting execution: ``data`` becomes the waiting step's output.

        Follows the step's ``onResume`` transition, else ``onSuccess``. Raises
        ``NOT_WAITING`` (changing nothing) when the execution is not waiting for a resume.
        """
        for _ in range(_COMMIT_RETRIES):
            execution = await self._load(execution_id)
            now = self.now()
            if (
                execution.status is ExecutionStatus.WAITING
                and execution.timeout_at
                and execution.timeout_at <= now
            ):
                await self._cancel_loaded(execution, "timeout", timeout_reason(execution, now))
                execution = await self._load(execution_id)
            if execution.status is not ExecutionStatus.WAITING or execution.wait_kind is not WaitKind.HANDLER:
                detail = (
                    "waiting to retry" if execution.wait_kind is WaitKind.RETRY else execution.status.value
                )
                raise NotWaitingError(f"execution {execution_id} is not waiting for a resume ({detail})")
            flow = await self.flow_of(execution)
            assert execution.current_step_id is not None
            step = flow.step(execution.current_step_id)
            target = step.transitions.on_resume or step.transitions.on_success
            if step.output_key:
                execution.context = with_value(execution.context, step.output_key, data)
                self._check_context_size(execution.context)
            move_to(execution, target, now)
            outcome = await self._commit(
                execution, step, StepStatus.RESUMED, now, now, None, data, None, target
            )
            if outcome.committed:
                self._emit(EventType.EXECUTION_RESUMED, execution, step.id)
                if not execution.is_terminal:
                    self._signal(execution.id)
                return execution
        raise FlowMonkeyError(f"could not resume {execution_id}: it kept changing", code=ErrorCode.CONFLICT)

    async def wake(self, execution_id: str) -> bool:
        """Re-run a waiting step now (its handler sees ``woken_by == "timer"``), e.g.
        because the child or job it waited on finished. False if it is not waiting."""
        for _ in range(_COMMIT_RETRIES):
            execution = await self.store.get_execution(execution_id)
            if execution is None or execution.status is not ExecutionStatus.WAITING:
                return False
            if execution.wait_kind is not WaitKind.HANDLER:
                return False
            expected = execution.revision
            execution.revision += 1
            execution.wake_at = self.now()
            if await self.store.commit(execution, expected_revision=expected):
                self._signal(execution_id)
                return True
        return False

    # -- cancel -----------------------------------------------------------------------

    async def cancel(
        self, execution_id: str, *, source: str = "user", reason: str | None = None
    ) -> CancelResult:
        """Cancel a pending, running or waiting execution and, recursively, its children.

        Cancelling a finished or unknown execution returns ``cancelled=False`` with an
        error; it never raises for that.
        """
        execution = await self.store.get_execution(execution_id)
        if execution is None:
            return CancelResult(False, None, f"no execution {execution_id!r}")
        return await self._cancel_loaded(execution, source, reason)

    async def _cancel_loaded(self, execution: Execution, source: str, reason: str | None) -> CancelResult:
        for _ in range(_COMMIT_RETRIES):
            previous = execution.status
            if execution.is_terminal:
                return CancelResult(False, previous, f"execution {execution.id} is already {previous.value}")
            expected = execution.revision
            record = mark_cancelled(execution, source, reason, self.now())
            if await self.store.commit(execution, expected_revision=expected, record=record):
                self._emit(
                    EventType.EXECUTION_CANCELLED,
                    execution,
                    execution.current_step_id,
                    source=source,
                    reason=reason,
                )
                self._signal(execution.id)
                children = await self._cancel_children(execution.id)
                if execution.parent_execution_id and source != "parent":
                    await self.wake(execution.parent_execution_id)
                return CancelResult(True, previous, None, children)
            execution = await self._load(execution.id)
        return CancelResult(False, execution.status, "the execution kept changing; try again")

    async def _cancel_children(self, parent_id: str) -> int:
        count = 0
        tried: set[str] = set()
        while True:
            page = await self.store.list_executions(
                ExecutionQuery(parent_execution_id=parent_id, statuses=ACTIVE_STATUSES), limit=100
            )
            fresh = [child for child in page.items if child.id not in tried]
            if not fresh:
                return count
            for child in fresh:
                tried.add(child.id)
                result = await self._cancel_loaded(child, "parent", f"parent {parent_id} was cancelled")
                count += int(result.cancelled) + result.children_cancelled

    # -- limits -----------------------------------------------------------------------

    def _fits(self, context: dict[str, Any]) -> bool:
        try:
            size = len(json.dumps(context, separators=(",", ":"), default=str))
        except (TypeError, ValueError):
            return False
        return size <= self.max_context_bytes

    def _check_context_size(self, context: dict[str, Any]) -> None:
        if not self._fits(context):
            raise FlowMonkeyError(
                f"context is larger than {self.max_context_bytes} bytes of JSON (or not JSON)",
                code=ErrorCode.CONTEXT_LIMIT,
            )


__all__ = ["CancelResult", "Engine", "HandlerParams", "StepOutcome"]
