"""The engine: create, step, run, resume, wake and cancel executions.

Every step ends in one conditional commit (compare-and-set on the revision that was
read): output at ``outputKey``, the next step, the status, one history record and
``revision + 1``. If a cancel or another worker committed first, the outcome is dropped
and the caller's execution is left as it was read. Handlers therefore run at least once
and state moves exactly once.

The parts, each given only what it needs: :class:`Creator` (new executions),
:class:`StepPipeline` (due step -> handler -> decision -> commit), :class:`Committer`
(the commit and what follows from it), :class:`Canceller` (cancel and timeouts).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from flowmonkey import jsonvalues
from flowmonkey.engine.cancellation import Canceller, CancelResult
from flowmonkey.engine.clock import Clock
from flowmonkey.engine.commits import COMMIT_RETRIES, Committer
from flowmonkey.engine.creation import DEFAULT_IDEMPOTENCY_TTL, Creator, Start
from flowmonkey.engine.decide import StepRun, resumed
from flowmonkey.engine.definitions import Definitions
from flowmonkey.engine.fanout import FanOut
from flowmonkey.engine.forks import Forks
from flowmonkey.engine.limits import DEFAULT_MAX_CONTEXT_BYTES, DEFAULT_MAX_STEPS, Limits
from flowmonkey.engine.migrations import MigrationCheck, Migrations
from flowmonkey.engine.notify import Emitter, WakeListener, WakeListeners
from flowmonkey.engine.pipeline import StepOutcome, StepPipeline
from flowmonkey.engine.repairs import Repairs
from flowmonkey.engine.takeovers import takeover
from flowmonkey.errors import ConflictError, ExecutionNotFoundError, NotWaitingError, ResumeDataError
from flowmonkey.events import EventBus
from flowmonkey.model import (
    ACTIVE_STATUSES,
    Execution,
    ExecutionStatus,
    Flow,
    Step,
    TimeoutConfig,
    WaitKind,
    utcnow,
)
from flowmonkey.observers import Hooks, Observer
from flowmonkey.registry import FlowRegistry, Handler, HandlerRegistry, check_step_configs
from flowmonkey.state import timeout_reason
from flowmonkey.stores.base import Claim, CreateResult, ExecutionQuery, Store

_CHILDREN_PAGE = 100
# (Module constants on the step path: see flowmonkey.engine.pipeline.)
_WAITING = ExecutionStatus.WAITING


class Engine:
    """Runs executions of registered flows against a :class:`Store`, with exactly the
    handlers it is given (``flowmonkey.Engine`` adds the built-in ones beneath them).

    Args:
        store: where executions live.
        handlers: a :class:`HandlerRegistry` (used as is) or handlers to register.
        flows: a :class:`FlowRegistry` or flows to register. Every flow registered with
            the engine, now or later, has each step's config checked against its
            handler's ``config_schema`` (:class:`StepConfigError` if it does not match).
        clock: returns the current aware datetime; injectable for tests.
        events: the bus to publish to (a new one by default).
        max_steps: steps an execution may take before it fails with ``MAX_STEPS``.
        max_context_bytes: JSON size of the context past which a step fails with
            ``CONTEXT_LIMIT`` (nothing of the oversized context is stored). Checked
            whenever a step stores an object, a list or a string over 256 characters.
        observer: watches steps, commits and creates (metrics, traces); see
            :mod:`flowmonkey.observers`. None costs nothing.
    """

    def __init__(
        self,
        store: Store,
        handlers: HandlerRegistry | Iterable[Handler] | None = None,
        flows: FlowRegistry | Iterable[Flow] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        events: EventBus | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        max_context_bytes: int = DEFAULT_MAX_CONTEXT_BYTES,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.handlers = handlers if isinstance(handlers, HandlerRegistry) else HandlerRegistry(handlers or ())
        self.flows = flows if isinstance(flows, FlowRegistry) else FlowRegistry()
        # Flows built in code get the checks flow files get: configs against handler schemas.
        self.flows.check_with(functools.partial(check_step_configs, handlers=self.handlers))
        if not isinstance(flows, FlowRegistry):
            for flow in flows or ():
                self.flows.register(flow)
        self.events = events or EventBus()
        self.limits = Limits(max_steps, max_context_bytes)
        self._clock = Clock(clock)
        self._wakes = WakeListeners()
        emitter = Emitter(self.events, self._clock)
        self._definitions = Definitions(store, self.flows)
        self._committer = Committer(store, self._clock, emitter, self._wakes)
        self._canceller = Canceller(store, self._committer, self._clock)
        notify = (self._clock, emitter, self._wakes)
        self._creator = Creator(store, self.flows, self._definitions, self.limits, notify)
        services = (self._clock, emitter, self._creator.create, store, self._time_out)
        fans = FanOut(store, self.flows, self._definitions, self._creator, (*notify, self._cancel_child))
        self._pipeline = StepPipeline(
            self._definitions, self.handlers, self._committer, self.limits, services, fans
        )
        self._repairs = Repairs(store, self._definitions, self._committer, self._clock)
        self._forks = Forks(
            store, self._definitions, self.flows, self._committer, (self._clock, self._creator.create)
        )
        self._migrations = Migrations(store, self._definitions, self._committer, self._clock)
        self.observer: Observer | None = None
        self.hooks = Hooks()
        self.observe(observer)

    def observe(self, observer: Observer | None) -> None:
        """Hand every step, commit and create to ``observer`` from now on (None: to nobody)."""
        self.observer = observer
        self.hooks = hooks = Hooks.of(observer)
        self._committer.on_committed = hooks.committed
        self._pipeline.hooks = hooks
        self._creator.origin = hooks.origin

    @property
    def max_steps(self) -> int:
        return self.limits.max_steps

    @property
    def max_context_bytes(self) -> int:
        return self.limits.max_context_bytes

    # -- time and signals -------------------------------------------------------------

    def now(self) -> datetime:
        """The engine's clock, including time skipped by ``run(simulate_time=True)``."""
        return self._clock.now()

    def add_wake_listener(self, listener: WakeListener) -> Callable[[], None]:
        """Call ``listener(execution_id, wake_at)`` whenever an execution becomes runnable
        (``wake_at`` None) or schedules a wake. Runtimes use this to stop sleeping.
        Returns a function that removes the listener."""
        return self._wakes.add(listener)

    # -- create and read --------------------------------------------------------------

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
        start = Start(
            flow_id=flow_id,
            context=context or {},
            version=version,
            idempotency_key=idempotency_key,
            idempotency_ttl=idempotency_ttl,
            tenant_id=tenant_id,
            parent_execution_id=parent_execution_id,
            parent_step_id=parent_step_id,
            timeout=timeout,
            metadata=metadata or {},
        )
        return await self._creator.create(start)

    async def flow_of(self, execution: Execution) -> Flow:
        """The exact definition the execution started on (by hash), even if since replaced."""
        return await self._definitions.flow_of(execution)

    async def get(self, execution_id: str) -> Execution | None:
        return await self.store.get_execution(execution_id)

    async def _load(self, execution_id: str) -> Execution:
        execution = await self.store.get_execution(execution_id)
        if execution is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r}")
        return execution

    # -- step and run -----------------------------------------------------------------

    async def step(self, execution_id: str, *, current: Execution | None = None) -> StepOutcome:
        """Run exactly one step of the execution, if one is due.

        ``current`` may pass the execution as this caller last committed it (the previous
        outcome's), which saves a read, as :meth:`run` does; if it is stale, the step's
        compare-and-set commit loses and nothing changes.
        """
        if current is None or current.id != execution_id:
            current = await self._load(execution_id)
        return await self._pipeline.advance(current)

    async def run(self, execution_id: str, *, simulate_time: bool = False) -> Execution:
        """Step the execution until it finishes or waits.

        A waiting parent's children are run too, so a test sees the whole tree finish.
        With ``simulate_time`` the engine's clock jumps over timer waits and backoffs.
        """
        execution = await self._load(execution_id)
        segment = self.hooks.segment
        if segment is None:
            return await self._run_loaded(execution, simulate_time)
        with segment(execution):  # a run segment, as a runtime's claim is
            return await self._run_loaded(execution, simulate_time)

    async def _run_loaded(self, execution: Execution, simulate_time: bool) -> Execution:
        execution_id = execution.id
        conflicts = 0
        while not execution.is_terminal:
            outcome = await self._pipeline.advance(execution)
            if outcome.committed:
                execution = outcome.execution
                if execution.status is not _WAITING:
                    continue
            elif outcome.record is not None:
                conflicts += 1
                if conflicts > COMMIT_RETRIES:
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
        query = ExecutionQuery(parent_execution_id=execution.id, statuses=ACTIVE_STATUSES)
        children = await self.store.list_executions(query, limit=_CHILDREN_PAGE)
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
        due = [t for t in (execution.wake_at, execution.timeout_at) if t is not None]
        if not simulate_time or not due:
            return False
        self._clock.skip(min(due) - now)
        return True

    # -- resume, wake -----------------------------------------------------------------

    async def resume(self, execution_id: str, data: Any = None, *, visit: int | None = None) -> Execution:
        """Resume a waiting execution: ``data`` becomes the waiting step's output.

        Follows the step's ``onResume`` transition, else ``onSuccess``. With ``visit``,
        only the wait of that step visit is resumed (a resume token names the wait it was
        made for): the check and the resume are one compare-and-set. Raises
        :class:`NotWaitingError` (changing nothing) when the execution is not waiting for
        that resume, and :class:`ConflictError` if it kept changing under the resume.
        """
        jsonvalues.check(data, what="the resume data")  # refused before anything is stored
        for _ in range(COMMIT_RETRIES):
            execution = await self._waiting_for_resume(execution_id)
            if visit is not None and execution.visit != visit:
                raise NotWaitingError(
                    f"execution {execution_id} no longer waits at the visit this resume was for "
                    f"(it waits at visit {execution.visit} of step {execution.current_step_id!r}, not {visit})"
                )
            flow = await self._definitions.flow_of(execution)
            assert execution.current_step_id is not None
            step = flow.step(execution.current_step_id)
            _check_resume_data(step, data)
            run = StepRun(execution, flow, step, self.now())
            if await self._committer.commit(resumed(run, data, self.limits)):
                if not execution.is_terminal:
                    self._wakes.signal(execution.id)
                return execution
        raise ConflictError(f"could not resume {execution_id}: it kept changing")

    async def _waiting_for_resume(self, execution_id: str) -> Execution:
        """The execution, if it waits for a resume (a passed timeout cancels it first)."""
        execution = await self._load(execution_id)
        now = self.now()
        if (
            execution.status is ExecutionStatus.WAITING
            and execution.timeout_at
            and execution.timeout_at <= now
        ):
            execution = await self._time_out(execution, now)
        if execution.status is not ExecutionStatus.WAITING or execution.wait_kind is not WaitKind.HANDLER:
            detail = "waiting to retry" if execution.wait_kind is WaitKind.RETRY else execution.status.value
            raise NotWaitingError(f"execution {execution_id} is not waiting for a resume ({detail})")
        return execution

    async def wake(self, execution_id: str) -> bool:
        """Re-run a waiting step now (its handler sees ``woken_by == "timer"``), e.g.
        because the child or job it waited on finished. False if it is not waiting."""
        return await self._committer.wake(execution_id)

    async def take_over(self, claim: Claim) -> Execution | None:
        """Record that ``claim`` took the execution over from a lost owner (its step runs
        again, with ``params.delivery`` one higher). The execution as committed, or None
        if another writer was first."""
        change = takeover(claim, self.now())
        return change.base if await self._committer.commit(change) else None

    # -- fix and continue ---------------------------------------------------------------

    async def retry(self, execution_id: str, *, by: str = "api") -> Execution:
        """Continue a failed, cancelled or held execution from the step that stopped it,
        with the context as it was when that step started; steps that succeeded do not run
        again. The history records the retry (``by`` and when). Raises
        :class:`NotRepairableError` if it is not failed, cancelled or held."""
        execution = await self._repairs.retry(execution_id, by)
        self._wakes.signal(execution_id)
        return execution

    async def skip(self, execution_id: str, output: Any, *, by: str = "api") -> Execution:
        """Give a held step ``output`` (checked against its ``outputSchema``) and continue
        along ``onSuccess``."""
        execution = await self._repairs.skip(execution_id, output, by)
        self._wakes.signal(execution_id)
        return execution

    async def fail(self, execution_id: str, *, by: str = "api") -> Execution:
        """Fail a held step as if it had not been held: ``errorKey``, then ``onFailure``,
        else the execution fails."""
        execution = await self._repairs.fail(execution_id, by)
        self._wakes.signal(execution_id)
        return execution

    async def fork(
        self,
        execution_id: str,
        step_id: str,
        *,
        visit: int | None = None,
        context: dict[str, Any] | None = None,
        definition: str = "pinned",
    ) -> Execution:
        """A new execution that starts at ``step_id`` of the given one (its last visit of
        it, or ``visit``) with the context as it was before that step (or ``context``), on
        the same definition (``pinned``) or the flow's ``live`` one; linked both ways."""
        return await self._forks.fork(execution_id, step_id, visit, context, definition)

    async def context_before(
        self, execution_id: str, step_id: str, *, visit: int | None = None
    ) -> dict[str, Any]:
        """The context as it was before ``step_id`` (its last visit, or ``visit``): what
        :meth:`fork` starts with unless given another (an editor shows it first)."""
        return await self._forks.context_before(execution_id, step_id, visit)

    async def check_migration(self, execution: Execution, target: Flow) -> MigrationCheck:
        """Whether ``execution`` could move to the definition ``target`` (and why not)."""
        return await self._migrations.check(execution, target)

    async def migrate(self, execution_id: str, target: Flow, *, by: str = "api") -> Execution:
        """Move the execution to ``target`` (another definition of its flow, e.g. the live
        one after a fix), if :meth:`check_migration` allows; recorded with both hashes."""
        execution = await self._migrations.migrate(execution_id, target, by)
        self._wakes.signal(execution_id)
        return execution

    # -- cancel -----------------------------------------------------------------------

    async def cancel(
        self, execution_id: str, *, source: str = "user", reason: str | None = None
    ) -> CancelResult:
        """Cancel a pending, running or waiting execution and, recursively, its children.

        Cancelling a finished or unknown execution returns ``cancelled=False`` with an
        error; it never raises for that.
        """
        return await self._canceller.cancel(execution_id, source, reason)

    async def cancel_timed_out(self, execution: Execution) -> CancelResult:
        """Cancel ``execution`` (as read) with source ``timeout``: its deadline passed."""
        return await self._canceller.cancel_loaded(
            execution, "timeout", timeout_reason(execution, self.now())
        )

    async def _cancel_child(self, execution_id: str, reason: str) -> CancelResult:
        return await self._canceller.cancel(execution_id, "parent", reason)

    async def _time_out(self, execution: Execution, now: datetime) -> Execution:
        await self._canceller.cancel_loaded(execution, "timeout", timeout_reason(execution, now))
        return await self._load(execution.id)


def _check_resume_data(step: Step, data: Any) -> None:
    """Refuse resume data the waiting step's ``resumeSchema`` does not accept, listing
    every error with its JSON path (as a webhook's 400 does)."""
    errors = jsonvalues.schema_errors(step.resume_schema, data)
    if errors:
        listed = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        raise ResumeDataError(
            f"the resume data does not match the resumeSchema of step {step.id!r}: {listed}",
            details={"errors": errors},
        )
