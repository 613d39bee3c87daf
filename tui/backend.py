"""The console's seam to FlowMonkey: the engine, its store and the embedded services.

Widgets never call the engine directly; they call these methods, which are all async,
so nothing blocks the event loop, and which report per-execution outcomes for bulk actions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from flowmonkey import (
    Engine,
    Execution,
    ExecutionStatus,
    FlowDirectory,
    FlowError,
    FlowMonkeyError,
    Handler,
    Runtime,
    Store,
    TriggerService,
    WakeSignaler,
    attach_signaler,
    open_store,
    serve_http,
    signaler_for,
)

from .flowfiles_state import FlowFileState, from_directory
from .options import ConsoleOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionReport:
    """What a (bulk) action did: the ids it changed and, for the others, why not."""

    verb: str
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.verb} {len(self.done)}"
        if self.failed:
            first_id, reason = self.failed[0]
            text += f", {len(self.failed)} refused ({first_id}: {reason})"
        return text


class Backend:
    """The engine the console shows, plus whatever runtime, watcher and triggers it hosts."""

    def __init__(
        self, engine: Engine, *, options: ConsoleOptions | None = None, owns_store: bool = False
    ) -> None:
        self.engine = engine
        self.store: Store = engine.store
        self.options = options or ConsoleOptions(worker=False)
        self.features: dict[str, str] = {}
        self.runtime: Runtime | None = None
        self.flow_directory: FlowDirectory | None = None
        self.triggers: TriggerService | None = None
        self.http_url: str | None = None
        self._owns_store = owns_store
        self._services: list[tuple[str, Callable[[], Coroutine[Any, Any, Any]]]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._signaler: WakeSignaler | None = None

    @classmethod
    async def from_options(
        cls,
        options: ConsoleOptions,
        *,
        handlers: Iterable[Handler] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> Backend:
        """Open the store named by ``options`` and build an engine on it (not started)."""
        _ensure_sqlite_dir(options.store_url)
        store = open_store(options.store_url)
        await store.open()
        engine = (
            Engine(store, list(handlers), [], clock=clock) if clock else Engine(store, list(handlers), [])
        )
        return cls(engine, options=options, owns_store=True)

    # -- lifecycle --------------------------------------------------------------------

    @property
    def worker_label(self) -> str:
        """``on`` (embedded runtime), ``inline`` (the console runs what it starts), ``off``."""
        if not self.options.worker:
            return "off"
        return "on" if self.runtime is not None else "inline"

    async def start(self) -> None:
        """Load (and watch) the flows; with a worker, run the runtime and the triggers.

        Either way the console hears other processes sharing the store (PostgreSQL
        NOTIFY, or the SQLite wake file) and they hear what the console starts, resumes
        and cancels.
        """
        await self._start_flows()
        await self._start_signals()
        if self.options.worker:
            await self._start_runtime()
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
            await self.store.close()

    async def _start_flows(self) -> None:
        flows_dir = self.options.flows_dir
        if not flows_dir.is_dir():
            self.features["flows"] = f"no directory {flows_dir}"
            return
        self.flow_directory = FlowDirectory(flows_dir, self.engine)
        await self.flow_directory.start()
        self._services.append(("flow directory", self.flow_directory.stop))
        self.features["flows"] = "watching"

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
            self.features["signals"] = f"off ({exc})"
            return
        detach = attach_signaler(self.engine, signaler)

        async def stop() -> None:
            detach()
            await signaler.stop()

        self._services.append(("signals", stop))
        self.features["signals"] = "on"

    async def _start_runtime(self) -> None:
        self.runtime = Runtime(self.engine, signaler=self._signaler)
        await self.runtime.start()
        self._services.append(("runtime", self.runtime.stop))
        self.features["runtime"] = "on"

    async def _start_triggers(self) -> None:
        if not self.options.worker:
            # Observe only: fire and pause by hand, but no scheduler, no flow sync, no HTTP.
            if self.options.http is not None:
                self.features["http"] = "off (--no-worker)"
            self.triggers = TriggerService(self.store, self.engine, schedule=None, sync_flows=False)
            self.features["triggers"] = "manual"
            return
        self.triggers = TriggerService(self.store, self.engine)
        self.triggers.asgi_app()  # routes exist before start(): no "no web app" warning
        await self.triggers.start()
        self._services.append(("triggers", self.triggers.stop))
        self.features["triggers"] = "on"
        if self.options.http is not None:
            host, port = self.options.http
            server = await serve_http(self.triggers, host, port)
            self._services.append(("http", server.stop))
            self.http_url = server.url

    def file_states(self) -> list[FlowFileState]:
        """Every flow file and the result of its last load (empty without a flows dir)."""
        if self.flow_directory is None:
            return []
        return from_directory(self.flow_directory.files())

    def _run_inline(self, execution_id: str) -> None:
        """Without a runtime, a console with a worker runs what it starts or resumes itself."""
        if self.runtime is not None or not self.options.worker:
            return
        task = asyncio.create_task(self._run_quietly(execution_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_quietly(self, execution_id: str) -> None:
        try:
            await self.engine.run(execution_id)
        except FlowMonkeyError:
            log.exception("running %s failed", execution_id)

    # -- reads ------------------------------------------------------------------------

    async def execution(self, execution_id: str) -> Execution | None:
        return await self.store.get_execution(execution_id)

    # -- actions ----------------------------------------------------------------------

    async def start_execution(self, flow_id: str, context: dict[str, Any]) -> Execution:
        """Create an execution of the flow's live version (and run it when we are the worker)."""
        execution, _ = await self.engine.create(flow_id, context)
        self._run_inline(execution.id)
        return execution

    async def resume(self, execution_ids: Iterable[str], data: Any) -> ActionReport:
        report = ActionReport(verb="resumed")
        for execution_id in execution_ids:
            try:
                await self.engine.resume(execution_id, data)
            except FlowMonkeyError as exc:
                report.failed.append((execution_id, str(exc)))
                continue
            report.done.append(execution_id)
            self._run_inline(execution_id)
        return report

    async def cancel(self, execution_ids: Iterable[str], reason: str | None) -> ActionReport:
        report = ActionReport(verb="cancelled")
        for execution_id in execution_ids:
            result = await self.engine.cancel(execution_id, source="console", reason=reason or None)
            if result.cancelled:
                report.done.append(execution_id)
            else:
                report.failed.append((execution_id, result.error or "not cancelled"))
        return report

    async def retry(self, execution_ids: Iterable[str]) -> ActionReport:
        """Start a new execution of each failed one: same flow version, its last context.

        The new execution starts at the flow's first step with the failed execution's
        context (which includes the outputs of the steps that had succeeded) and metadata
        ``{"retry_of": id}``. The failed execution itself is left as it is.
        """
        report = ActionReport(verb="retried")
        for execution_id in execution_ids:
            try:
                report.done.append(await self._retry_one(execution_id))
            except (FlowMonkeyError, ValueError) as exc:
                report.failed.append((execution_id, str(exc)))
        return report

    async def _retry_one(self, execution_id: str) -> str:
        failed = await self.store.get_execution(execution_id)
        if failed is None:
            raise ValueError("no such execution")
        if failed.status is not ExecutionStatus.FAILED:
            raise ValueError(f"is {failed.status.value}, not failed")
        try:
            self.engine.flows.get(failed.flow_id, failed.flow_version)
        except FlowError:
            # The version is no longer registered: bring back its stored definition.
            self.engine.flows.register(await self.engine.flow_of(failed))
        created, _ = await self.engine.create(
            failed.flow_id, failed.context, version=failed.flow_version, metadata={"retry_of": failed.id}
        )
        self._run_inline(created.id)
        return created.id

    async def set_trigger_enabled(self, trigger_id: str, enabled: bool) -> bool:
        """Pause or unpause a trigger; False when it does not exist."""
        if self.triggers is not None:
            try:
                await (self.triggers.enable(trigger_id) if enabled else self.triggers.disable(trigger_id))
            except FlowMonkeyError:
                return False
            return True
        trigger = await self.store.get_trigger(trigger_id)
        if trigger is None:
            return False
        await self.store.save_trigger(replace(trigger, enabled=enabled, updated_at=self.engine.now()))
        return True

    async def fire_trigger(self, trigger_id: str) -> str:
        """Fire a trigger now (even a paused one) with an empty payload; says what happened."""
        if self.triggers is None:
            raise FlowMonkeyError(
                f"firing needs the trigger service ({self.features.get('triggers', 'off')})"
            )
        outcome = await self.triggers.fire(trigger_id)
        status = str(getattr(outcome.status, "value", outcome.status))
        if outcome.execution_id is not None:
            self._run_inline(outcome.execution_id)
            return f"{status}, started {outcome.execution_id}"
        return f"{status}: {outcome.error or 'no execution'}"


def _ensure_sqlite_dir(url: str) -> None:
    """``sqlite:///.flowmonkey/x.db`` works on a fresh checkout: create the directory."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
