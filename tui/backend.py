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
from datetime import datetime
from typing import Any

from flowmonkey import (
    TRIGGERS_SECTION,
    Engine,
    Event,
    Execution,
    ExecutionQuery,
    ExecutionStatus,
    Flow,
    FlowDirectory,
    FlowError,
    FlowMonkeyError,
    Handler,
    Page,
    Pruner,
    RetentionLoop,
    RetentionPolicy,
    Runtime,
    Step,
    StepRecord,
    Store,
    StoreError,
    TriggerDefinition,
    TriggerError,
    TriggerService,
    WakeSignaler,
    attach_signaler,
    missing_store,
    open_store,
    serve_http,
    signaler_for,
)

from .flowfiles_state import FlowFileState, from_directory, read_without_code
from .options import ConsoleOptions
from .outcomes import ActionReport, TriggerState

__all__ = ["ActionReport", "Backend", "TriggerState"]

log = logging.getLogger(__name__)

RETRYABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})


class Backend:
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
    def readonly(self) -> bool:
        """Every action that changes state is refused (``--readonly``)."""
        return self.options.readonly

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

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Load (and watch) the flows; with a worker, run the runtime and the triggers.

        Either way the console hears other processes sharing the store (PostgreSQL
        NOTIFY, or the SQLite wake file) and they hear what the console starts, resumes
        and cancels. Read-only, only the flow files are read (see the module docstring).
        """
        if self.readonly:
            self._read_flows()
            return
        await self._start_flows()
        await self._start_signals()
        if self.options.worker:
            await self._start_runtime()
        self._start_retention()
        await self._start_triggers()

    async def stop(self) -> None:
        """Stop what was started (newest first), then close the store if it is ours."""
        for name, stop in reversed(self._services):
            try:
                await stop()
            except Exception:
                log.exception("stopping %s failed", name)
        self._services.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_store:
            await self._store.close()

    async def _start_flows(self) -> None:
        flows_dir = self.options.flows_dir
        if not flows_dir.is_dir():
            self._features["flows"] = f"no directory {flows_dir}"
            return
        self._flow_directory = FlowDirectory(flows_dir, self._engine, sections=[TRIGGERS_SECTION])
        await self._flow_directory.start()
        self._services.append(("flow directory", self._flow_directory.stop))
        self._features["flows"] = "watching"

    def _read_flows(self) -> None:
        flows_dir = self.options.flows_dir
        flows, self._read_files = read_without_code(flows_dir) if flows_dir.is_dir() else ([], [])
        for flow in flows:
            self._engine.flows.register(flow)
        off = "off (readonly)"
        self._features.update(flows="read once, handler code not loaded (readonly)", runtime=off)
        self._features.update(triggers=off, signals=f"{off}: other processes' changes show by polling")

    async def _start_signals(self) -> None:
        signaler = signaler_for(self.options.store_url)
        if signaler is None:  # memory: nobody else shares the store
            return
        if self.options.worker:
            self._signaler = signaler  # the runtime starts, listens to and stops it
            return
        try:
            await signaler.start(lambda execution_id, wake_at: None)
        except Exception as exc:  # the console still works; other processes notice later
            log.warning("no cross-process signals: %s", exc)
            self._features["signals"] = f"off ({exc})"
            return
        detach = attach_signaler(self._engine, signaler)

        async def stop() -> None:
            detach()
            await signaler.stop()

        self._services.append(("signals", stop))
        self._features["signals"] = "on"

    async def _start_runtime(self) -> None:
        self._runtime = Runtime(self._engine, signaler=self._signaler)
        await self._runtime.start()
        self._services.append(("runtime", self._runtime.stop))
        self._features["runtime"] = "on"

    def _start_retention(self) -> None:
        """With a worker and ``--prune-every``, prune finished executions (off by default)."""
        loop = self._retention_loop()
        if loop is not None:
            loop.start()
            self._services.append(("retention", loop.stop))
        self._features["retention"] = self.retention

    def _retention_loop(self) -> RetentionLoop | None:
        every = self.options.prune_every
        if every is None or not self.options.worker or self.readonly:
            return None
        return RetentionLoop(Pruner(self._store, RetentionPolicy(older_than=self.options.retain)), every)

    @property
    def retention(self) -> str:
        """The retention in effect (for the header's tooltip and the help)."""
        loop = self._retention_loop()
        return (
            loop.describe()
            if loop is not None
            else "off: finished executions are kept (--prune-every turns it on)"
        )

    async def _start_triggers(self) -> None:
        if not self.options.worker:
            # Observe only: fire and pause by hand, but no scheduler, no flow sync, no HTTP.
            if self.options.http is not None:
                self._features["http"] = "off (--no-worker)"
            self._triggers = TriggerService(
                self._store,
                self._engine,
                schedule=None,
                sync_flows=False,
                secret=self.options.secret,
                legacy_tokens_until=self.options.legacy_tokens_until,
            )
            self._features["triggers"] = "manual"
            return
        self._triggers = TriggerService(
            self._store,
            self._engine,
            secret=self.options.secret,
            legacy_tokens_until=self.options.legacy_tokens_until,
        )
        self._triggers.asgi_app()  # routes exist before start(): no "no web app" warning
        await self._triggers.start()
        self._services.append(("triggers", self._triggers.stop))
        self._features["triggers"] = "on"
        if self.options.http is not None:
            host, port = self.options.http
            server = await serve_http(self._triggers, host, port)
            self._services.append(("http", server.stop))
            self._http_url = server.url

    def _run_inline(self, execution_id: str) -> None:
        """Without a runtime, a console with a worker runs what it starts or resumes itself."""
        if self._runtime is not None or not self.options.worker:
            return
        task = asyncio.create_task(self._run_quietly(execution_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_quietly(self, execution_id: str) -> None:
        try:
            await self._engine.run(execution_id)
        except FlowMonkeyError:
            log.exception("running %s failed", execution_id)

    # -- live -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The engine's clock (frozen in tests, so relative times are stable)."""
        return self._engine.now()

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every engine event; returns the unsubscribe."""
        return self._engine.events.subscribe(listener)

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

    async def history(self, execution_id: str) -> list[StepRecord]:
        """The execution's step records in commit order."""
        return await self._store.history(execution_id)

    async def executions(
        self, query: ExecutionQuery, *, limit: int, cursor: str | None = None
    ) -> Page[Execution]:
        """One page of matching executions, newest first; ``next_cursor`` pages on."""
        return await self._store.list_executions(query, limit=limit, cursor=cursor)

    async def count(self, query: ExecutionQuery | None = None) -> dict[ExecutionStatus, int]:
        """How many executions match ``query`` (default: all), by status."""
        return await self._store.count_executions(query or ExecutionQuery())

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
        """Start a new execution of each failed or cancelled one: same flow version, its
        last context.

        The new execution starts at the flow's first step with the old execution's
        context (which includes the outputs of the steps that had succeeded) and metadata
        ``{"retry_of": id}``. The old execution itself is left as it is.
        """
        report = ActionReport(verb="retried")
        for execution_id in execution_ids:
            try:
                report.created.append(await self._retry_one(execution_id))
            except (FlowMonkeyError, ValueError) as exc:
                report.failed.append((execution_id, str(exc)))
                continue
            report.done.append(execution_id)
        return report

    async def _retry_one(self, execution_id: str) -> str:
        failed = await self._store.get_execution(execution_id)
        if failed is None:
            raise ValueError("no such execution")
        if failed.status not in RETRYABLE:
            raise ValueError(f"is {failed.status.value}, not failed or cancelled")
        try:
            self._engine.flows.get(failed.flow_id, failed.flow_version)
        except FlowError:
            # The version is no longer registered: bring back its stored definition.
            self._engine.flows.register(await self._engine.flow_of(failed))
        created, _ = await self._engine.create(
            failed.flow_id, failed.context, version=failed.flow_version, metadata={"retry_of": failed.id}
        )
        self._run_inline(created.id)
        return created.id

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
