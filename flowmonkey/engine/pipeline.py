"""The step pipeline: one obvious path from a due execution to one compare-and-set commit.

    due? -> the definition and step -> the input -> the handler (invoke) -> decide -> commit

Every way a step can end (success, wait, failure, retry, a step timeout, an input that
does not resolve, a missing handler, too many steps) arrives at :func:`decide` as a
:class:`~flowmonkey.result.StepResult` and leaves it as one
:class:`~flowmonkey.change.Change`, which the :class:`Committer` writes or drops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NamedTuple

from flowmonkey.change import Change
from flowmonkey.engine.capabilities import CreateFn, EngineServices
from flowmonkey.engine.clock import Clock
from flowmonkey.engine.commits import Committer
from flowmonkey.engine.decide import StepRun, decide, failure
from flowmonkey.engine.definitions import Definitions
from flowmonkey.engine.fanout import FanOut
from flowmonkey.engine.invoke import handler_params, invoke
from flowmonkey.engine.limits import Limits
from flowmonkey.engine.notify import Emitter
from flowmonkey.errors import ErrorCode, FlowMonkeyError, StoreError
from flowmonkey.events import EventType
from flowmonkey.inputs import resolve_input
from flowmonkey.model import Execution, ExecutionStatus, Step, StepRecord, WaitKind
from flowmonkey.observers import TRACE_METADATA_KEY, Hooks, TraceContext
from flowmonkey.params import WokenBy
from flowmonkey.registry import HandlerRegistry
from flowmonkey.result import Result
from flowmonkey.stores.base import JobStore

# Step-path comparisons read module constants: an enum member read through its class costs
# 100-180 ns in Python 3.11 (EnumType defines __getattr__), a module global about 15.
_HELD, _WAITING, _BY_HANDLER = ExecutionStatus.HELD, ExecutionStatus.WAITING, WaitKind.HANDLER
_STEP_TIMEOUT = ErrorCode.STEP_TIMEOUT.value

TimeOut = Callable[[Execution, datetime], Awaitable[Execution]]
"""Cancels a timed-out execution (source ``timeout``) and returns it as it is now."""


class StepOutcome(NamedTuple):
    """What :meth:`Engine.step` did: the execution after the step, its record, and
    whether the commit won (False: nothing was due, or another writer was first)."""

    execution: Execution
    record: StepRecord | None
    committed: bool


class StepPipeline:
    """Runs the current step of an execution and commits its outcome."""

    __slots__ = (
        "_bus",
        "_clock",
        "_committer",
        "_definitions",
        "_emitter",
        "_fans",
        "_handlers",
        "_limits",
        "_services",
        "_time_out",
        "hooks",
    )

    def __init__(
        self,
        definitions: Definitions,
        handlers: HandlerRegistry,
        committer: Committer,
        limits: Limits,
        services: tuple[Clock, Emitter, CreateFn, JobStore, TimeOut],
        fans: FanOut,
    ) -> None:
        self._definitions = definitions
        self._handlers = handlers
        self._committer = committer
        self._limits = limits
        self._clock, self._emitter, create, store, self._time_out = services
        self._services = EngineServices(create, store, self._emitter)
        self._bus = self._emitter.bus
        self._fans = fans
        self.hooks = Hooks()

    async def advance(self, execution: Execution) -> StepOutcome:
        """Run the execution's current step if one is due, and commit what it did."""
        if execution.is_terminal:
            return StepOutcome(execution, None, False)
        now = self._clock.now()
        if execution.timeout_at is not None and execution.timeout_at <= now:
            return StepOutcome(await self._time_out(execution, now), None, True)
        if execution.status is _HELD:
            return StepOutcome(execution, None, False)  # an operator's move
        woken_by: WokenBy = None
        if execution.status is _WAITING:
            if execution.wake_at is None or execution.wake_at > now:
                return StepOutcome(execution, None, False)
            if execution.wait_kind is _BY_HANDLER:
                woken_by = "timer"
        on_step = self.hooks.step
        if on_step is not None:
            assert execution.current_step_id is not None
            around = on_step(execution, execution.current_step_id)
            if around is not None:
                with around:
                    return await self._run_and_commit(execution, now, woken_by)
        return await self._run_and_commit(execution, now, woken_by)

    async def _run_and_commit(self, execution: Execution, now: datetime, woken_by: WokenBy) -> StepOutcome:
        run, change = await self._run(execution, now, woken_by)
        trace_context = self.hooks.trace_context
        if trace_context is not None:
            trace = trace_context(execution)
            if trace is not None:
                change = _with_trace(change, trace)
        try:
            won = await self._committer.commit(change)
        except StoreError as exc:
            if exc.transient:
                raise  # the runtime waits the outage out; the step's outcome is not lost yet
            change = _rejected(run, exc, self._clock.now())
            won = await self._committer.commit(change)
        return StepOutcome(execution, change.record, won)

    async def _run(self, execution: Execution, now: datetime, woken_by: WokenBy) -> tuple[StepRun, Change]:
        flow = self._definitions.cached(execution.flow_hash) or await self._definitions.flow_of(execution)
        assert execution.current_step_id is not None
        step = flow.step(execution.current_step_id)
        if execution.step_count >= self._limits.max_steps:
            message = f"execution exceeded max_steps={self._limits.max_steps}"
            run = StepRun(execution, flow, step, now)
            return run, failure(run, Result.failure(ErrorCode.MAX_STEPS, message), now, final=True)
        if self._bus.active:
            self._announce_start(execution, step)
        step_input: Any = None
        try:
            step_input = resolve_input(step.input, execution.context)
            handler = self._handlers.get(step.type) if step.fan is None else None
        except FlowMonkeyError as exc:
            result = Result.failure(exc.code, exc.message, exc.details)
        else:
            if handler is None:  # parallel and map: the engine's own kinds
                result = await self._fans.run(step, execution, step_input)
                run = StepRun(execution, flow, step, now, step_input)
                return run, decide(run, result, self._clock.now(), self._limits)
            params = handler_params(step, execution, step_input, now, woken_by, self._services)
            result = await invoke(handler, params)
            if result.error_code == _STEP_TIMEOUT:
                self._emitter.emit(EventType.STEP_TIMEOUT, execution, step.id, timeout=step.timeout)
        run = StepRun(execution, flow, step, now, step_input)
        return run, decide(run, result, self._clock.now(), self._limits)

    def _announce_start(self, execution: Execution, step: Step) -> None:
        emitter = self._emitter
        if execution.step_count == 0 and execution.status is ExecutionStatus.PENDING:
            emitter.emit(EventType.EXECUTION_STARTED, execution)
        emitter.emit(EventType.STEP_STARTED, execution, step.id, attempt=execution.attempt)


def _with_trace(change: Change, trace: TraceContext) -> Change:
    """``change`` that also stores ``trace`` in the metadata (once per run segment)."""
    metadata = {**change.value("metadata"), TRACE_METADATA_KEY: dict(trace)}
    return Change(change.base, {**change.fields, "metadata": metadata}, change.record, change.wake_parent)


def _rejected(run: StepRun, exc: StoreError, finished: datetime) -> Change:
    """The step fails for good (``STORE_REJECTED``) when the store refuses its outcome for
    a reason that is not transient: a retry would run the handler again for nothing."""
    message = f"the store refused the outcome of step {run.step.id!r}: {exc.message}"
    return failure(run, Result.failure(ErrorCode.STORE_REJECTED, message), finished, final=True)
