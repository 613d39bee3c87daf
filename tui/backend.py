"""The console's one door to FlowMonkey: the engine, its store and the embedded services.

Widgets and screens never touch the engine, the store or a service: every read and every
action they need is a method here. Store calls are async, so nothing blocks the event
loop, and bulk actions report their outcome per execution.

Read-only (``--readonly``) is decided here, not by the keys: the store is opened
read-only at the driver, and nothing that writes or runs code is started (no runtime,
scheduler, flow sync or signals; flow files are read without importing their handlers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from flowmonkey import (
    BulkPreview,
    BulkProgress,
    BulkRun,
    Engine,
    Event,
    Execution,
    ExecutionQuery,
    ExecutionStatus,
    FanIn,
    FeedPage,
    Flow,
    FlowDirectory,
    FlowHealth,
    FlowMonkeyError,
    Handler,
    Observability,
    Page,
    ResumeDataError,
    Runtime,
    Step,
    StepHealth,
    StepRecord,
    Store,
    StoreError,
    TriggerDefinition,
    TriggerError,
    TriggerService,
    WakeSignaler,
    cancel_action,
    migrate_action,
    missing_store,
    open_store,
    preview,
    resume_action,
    retry_action,
)

from .flowfiles_state import FlowFileState, from_directory
from .options import ConsoleOptions
from .outcomes import ActionReport, TriggerState
from .services import EmbeddedServices
from .store_changes import StoreChanges

__all__ = ["ActionReport", "Backend", "TriggerState"]

log = logging.getLogger(__name__)

RESUME_REFUSED = "the data does not match the waiting step's resumeSchema:"
HEALTH_WINDOW = timedelta(hours=1)
"""Flow health covers the last hour."""
RETRYABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})
OPERATOR = "console"


class Backend(EmbeddedServices):
    """The engine the console shows, plus whatever runtime, watcher and triggers it hosts."""

    def __init__(
        self, engine: Engine, *, options: ConsoleOptions | None = None, owns_store: bool = False
    ) -> None:
        self.options = options or ConsoleOptions(worker=False)
        self._engine = engine
        self._store: Store = engine.store
        self._features: dict[str, str] = {}
        self._runtime: Runtime | None = None
        self._flow_directory: FlowDirectory | None = None
        self._read_files: list[FlowFileState] | None = None  # read-only: read once, no code
        self._triggers: TriggerService | None = None
        self._http_url: str | None = None
        self._owns_store = owns_store
        self._services: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._signaler: WakeSignaler | None = None
        self._changes = StoreChanges()
        # Metrics only when served (--http); the running step named in the log's lines.
        self._observability = Observability.build(
            self._store, metrics=self.options.http is not None, log_context=True
        )
        self._observability.install(engine)

    @classmethod
    async def from_options(
        cls,
        options: ConsoleOptions,
        *,
        handlers: Iterable[Handler] = (),
        flows: Iterable[Flow] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> Backend:
        """Open the store named by ``options`` and build an engine on it (not started).

        A SQLite file that does not exist is refused (a typo must not become an empty
        store) unless it is the default one or ``options.create``; read-only creates nothing.
        """
        refused = None if options.create and not options.readonly else missing_store(options.store_url)
        if refused is not None:
            raise StoreError(refused)
        store = open_store(options.store_url, readonly=options.readonly)
        await store.open()
        parts = (store, list(handlers), list(flows))
        engine = Engine(*parts, clock=clock) if clock else Engine(*parts)
        return cls(engine, options=options, owns_store=True)

    # -- what the console runs ----------------------------------------------------------

    @property
    def store_url(self) -> str:
        """The store's URL as shown to a person (the password masked)."""
        return self._store.url

    @property
    def worker_label(self) -> str:
        """``on`` (embedded runtime), ``inline`` (the console runs what it starts), ``off``."""
        if not self.options.worker or self.readonly:
            return "off"
        return "on" if self._runtime is not None else "inline"

    @property
    def features(self) -> Mapping[str, str]:
        """What each embedded service is doing (``flows: watching``, ``triggers: manual``)."""
        return self._features

    @property
    def http_url(self) -> str | None:
        """Where the webhook triggers are served (``--http``), once started."""
        return self._http_url

    # -- live -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The engine's clock (frozen in tests, so relative times are stable)."""
        return self._engine.now()

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every engine event; returns the unsubscribe."""
        return self._engine.events.subscribe(listener)

    def on_store_change(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when another process signals a change; returns the remove.
        Signals say what became runnable, not every step: poll :meth:`feed` as well."""
        return self._changes.add(listener)

    async def feed(self, after: str | None = None, *, limit: int = 200) -> FeedPage:
        """History records committed by any process after the cursor ``after`` (None:
        the newest ``limit``), oldest first; a late commit is delivered late, never skipped."""
        return await self._store.feed(after=after, limit=limit)

    # -- flows ------------------------------------------------------------------------

    def flows(self) -> list[Flow]:
        """The live version of every flow, by id."""
        return self._engine.flows.latest()

    def flow(self, flow_id: str) -> Flow | None:
        """The live version of ``flow_id``; None when there is none (unknown or retired)."""
        if flow_id not in self._engine.flows:
            return None
        return self._engine.flows.get(flow_id)

    def step_routes(self, step: Step) -> list[tuple[str, str]]:
        """Where a step goes besides its transitions, says its handler: ``("cases.express",
        "ship-express")`` for a switch; none for a handler that does not route."""
        refs = self._engine.handlers.step_refs(step)
        return [(".".join(str(part) for part in path), target) for path, target in refs]

    def file_states(self) -> list[FlowFileState]:
        """Every flow file and the result of its last load (empty without a flows dir)."""
        if self._read_files is not None:
            return self._read_files
        if self._flow_directory is None:
            return []
        return from_directory(self._flow_directory.files())

    # -- executions -------------------------------------------------------------------

    async def execution(self, execution_id: str) -> Execution | None:
        return await self._store.get_execution(execution_id)

    async def resume_schema(self, execution_id: str) -> dict[str, Any] | None:
        """The ``resumeSchema`` of the step ``execution_id`` waits at (None: it declares none)."""
        execution = await self._store.get_execution(execution_id)
        if execution is None or execution.current_step_id is None:
            return None
        step = (await self._engine.flow_of(execution)).steps.get(execution.current_step_id)
        return dict(step.resume_schema) if step is not None and step.resume_schema is not None else None

    async def history(self, execution_id: str) -> list[StepRecord]:
        """The execution's step records in commit order."""
        return await self._store.history(execution_id)

    async def fan(self, execution_id: str, *, limit: int = 200) -> tuple[FanIn | None, list[Execution]]:
        """The execution's latest parallel or map step's counters and its first children
        (in branch or element order); ``(None, [])`` if it has none."""
        fans = await self._store.fans_of(execution_id)
        if not fans:
            return None, []
        children = await self._store.fan_children(fans[-1].fan_id, limit=limit)
        return fans[-1], [child for _, child in children]

    async def executions(
        self, query: ExecutionQuery, *, limit: int, cursor: str | None = None
    ) -> Page[Execution]:
        """One page of matching executions, newest first; ``next_cursor`` pages on."""
        return await self._store.list_executions(query, limit=limit, cursor=cursor)

    async def count(self, query: ExecutionQuery | None = None) -> dict[ExecutionStatus, int]:
        """How many executions match ``query`` (default: all), by status."""
        return await self._store.count_executions(query or ExecutionQuery())

    async def flow_health(self, flow_id: str) -> FlowHealth:
        """Finishes, p95 and starts per minute of ``flow_id`` over the last hour (bounded)."""
        now = self.now()
        return await self._store.flow_health(flow_id, since=now - HEALTH_WINDOW, until=now)

    async def step_health(self, flow_id: str) -> dict[str, StepHealth]:
        """Per step id: p50/p95 and failures in the executions started in the last hour."""
        now = self.now()
        steps = await self._store.step_health(flow_id, since=now - HEALTH_WINDOW, until=now)
        return {step.step_id: step for step in steps}

    # -- triggers ---------------------------------------------------------------------

    async def trigger(self, trigger_id: str) -> TriggerDefinition | None:
        return await self._store.get_trigger(trigger_id)

    async def triggers(self) -> list[TriggerState]:
        """Every trigger with its last fire.

        The last fire comes from the fire history: recording a fire never rewrites the
        trigger (it could undo an operator's edit), so webhooks and events keep no
        last-fired time on it.
        """
        definitions = await self._store.list_triggers()
        histories = await asyncio.gather(*(self._store.trigger_history(t.id, limit=1) for t in definitions))
        return [
            TriggerState(definition=definition, last_fire=fires[0] if fires else None)
            for definition, fires in zip(definitions, histories, strict=True)
        ]

    # -- actions ----------------------------------------------------------------------

    async def start_execution(self, flow_id: str, context: dict[str, Any]) -> Execution:
        """Create an execution of the flow's live version (and run it when we are the worker)."""
        execution, _ = await self._engine.create(flow_id, context)
        self._run_inline(execution.id)
        return execution

    async def resume(self, execution_ids: Iterable[str], data: Any) -> ActionReport:
        """Resume each waiting execution with ``data`` (any JSON value)."""
        report = ActionReport(verb="resumed")
        for execution_id in execution_ids:
            try:
                await self._engine.resume(execution_id, data)
            except ResumeDataError as exc:  # every error on a line of its own, with its path
                errors = exc.details.get("errors", []) if isinstance(exc.details, dict) else []
                lines = [f"{e['path']}: {e['message']}" for e in errors]
                report.failed.append((execution_id, "\n".join([RESUME_REFUSED, *lines])))
                continue
            except FlowMonkeyError as exc:
                report.failed.append((execution_id, str(exc)))
                continue
            report.done.append(execution_id)
            self._run_inline(execution_id)
        return report

    async def cancel(self, execution_ids: Iterable[str], reason: str | None) -> ActionReport:
        report = ActionReport(verb="cancelled")
        for execution_id in execution_ids:
            result = await self._engine.cancel(execution_id, source="console", reason=reason or None)
            if result.cancelled:
                report.done.append(execution_id)
            else:
                report.failed.append((execution_id, result.error or "not cancelled"))
        return report

    async def retry(self, execution_ids: Iterable[str]) -> ActionReport:
        """Continue each failed, cancelled or held execution from its step (``Engine.retry``)."""
        return await self._each(execution_ids, "retried", lambda i: self._engine.retry(i, by=OPERATOR))

    async def skip(self, execution_id: str, output: Any) -> ActionReport:
        """Give a held step ``output`` (checked against its ``outputSchema``), go on."""
        return await self._each(
            [execution_id], "skipped", lambda i: self._engine.skip(i, output, by=OPERATOR)
        )

    async def fail_step(self, execution_id: str) -> ActionReport:
        """Fail a held step: its ``errorKey`` and ``onFailure`` apply, else it fails."""
        return await self._each([execution_id], "failed", lambda i: self._engine.fail(i, by=OPERATOR))

    async def fork(self, execution_id: str, step_id: str, context: dict[str, Any]) -> Execution:
        """A new execution at ``step_id`` of ``execution_id`` with ``context``, linked to it."""
        fork = await self._engine.fork(execution_id, step_id, context=context)
        self._run_inline(fork.id)
        return fork

    async def context_before(self, execution_id: str, step_id: str, visit: int | None) -> dict[str, Any]:
        return await self._engine.context_before(execution_id, step_id, visit=visit)

    async def output_schema(self, execution: Execution) -> Any:
        """The ``outputSchema`` of the step the execution stands at (None: none)."""
        step = (await self._engine.flow_of(execution)).steps.get(execution.current_step_id or "")
        return step.output_schema if step is not None else None

    async def bulk_preview(self, query: ExecutionQuery) -> BulkPreview:
        return await preview(self._store, query)  # the frozen set: count, first ids, bound

    def bulk_run(
        self, plan: BulkPreview, name: str, value: Any, progress: Callable[[BulkProgress], None]
    ) -> BulkRun:
        """The bulk action ``name`` on ``plan``: ``value`` is resume's data, migrate's target."""
        engine = self._engine
        action = {
            "cancel": lambda: cancel_action(engine, OPERATOR, "bulk cancel from the console"),
            "retry": lambda: retry_action(engine, OPERATOR),
            "resume": lambda: resume_action(engine, value),
            "migrate": lambda: migrate_action(engine, value, OPERATOR, dry_run=False),
        }[name]()
        return BulkRun(self._store, plan, action, paced=name in ("retry", "resume"), on_progress=progress)

    async def _each(
        self, execution_ids: Iterable[str], verb: str, act: Callable[[str], Awaitable[Execution]]
    ) -> ActionReport:
        report = ActionReport(verb=verb)
        for execution_id in execution_ids:
            try:
                await act(execution_id)
            except FlowMonkeyError as exc:
                report.failed.append((execution_id, exc.message))
                continue
            report.done.append(execution_id)
            self._run_inline(execution_id)
        return report

    async def set_trigger_enabled(self, trigger_id: str, enabled: bool) -> bool:
        """Pause or unpause a trigger; False when it does not exist."""
        if self._triggers is not None:
            try:
                await (self._triggers.enable(trigger_id) if enabled else self._triggers.disable(trigger_id))
            except FlowMonkeyError:
                return False
            return True
        trigger = await self._store.get_trigger(trigger_id)
        if trigger is None:
            return False
        await self._store.save_trigger(replace(trigger, enabled=enabled, updated_at=self._engine.now()))
        return True

    async def fire_trigger(self, trigger_id: str) -> tuple[str, str | None]:
        """Fire a trigger now (even a paused one) with an empty payload: what happened, and
        the execution it started (None when none)."""
        if self._triggers is None:
            raise TriggerError(f"firing needs the trigger service ({self._features.get('triggers', 'off')})")
        outcome = await self._triggers.fire(trigger_id)
        if outcome.execution_id is not None:
            self._run_inline(outcome.execution_id)
            return f"{outcome.status.value}, started {outcome.execution_id}", outcome.execution_id
        return f"{outcome.status.value}: {outcome.error or 'no execution'}", None
