"""The services a console embeds next to its engine (``Backend``'s lifecycle): the flow
directory (watched, or read once without code), cross-process signals, the runtime, the
retention loop, the triggers and their HTTP server. Read-only starts none of them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from flowmonkey import (
    TRIGGERS_SECTION,
    Engine,
    FlowDirectory,
    FlowMonkeyError,
    Observability,
    Pruner,
    RetentionLoop,
    RetentionPolicy,
    Runtime,
    Store,
    TriggerService,
    WakeSignaler,
    attach_signaler,
    serve_http,
    signaler_for,
)

from .flowfiles_state import FlowFileState, read_without_code
from .options import ConsoleOptions
from .store_changes import Overheard, StoreChanges

log = logging.getLogger(__name__)


class EmbeddedServices:
    """Started and stopped by ``start``/``stop``; the state is ``Backend``'s."""

    options: ConsoleOptions
    _engine: Engine
    _store: Store
    _features: dict[str, str]
    _runtime: Runtime | None
    _flow_directory: FlowDirectory | None
    _read_files: list[FlowFileState] | None
    _triggers: TriggerService | None
    _http_url: str | None
    _owns_store: bool
    _services: list[tuple[str, Callable[[], Awaitable[None]]]]
    _tasks: set[asyncio.Task[None]]
    _signaler: WakeSignaler | None
    _changes: StoreChanges
    _observability: Observability

    @property
    def readonly(self) -> bool:
        """Every action that changes state is refused (``--readonly``)."""
        return self.options.readonly

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Load (and watch) the flows; with a worker, run the runtime and the triggers.

        Either way the console hears other processes sharing the store (PostgreSQL
        NOTIFY, or the SQLite wake file) and they hear what the console starts, resumes
        and cancels. Read-only, only the flow files are read (see the module docstring).
        """
        if self.readonly:
            self._read_flows("readonly")
            return
        if self.options.attach:  # a browser tab of --web: the serving process or a worker runs
            self._read_flows("attached")
            await self._start_signals()
            await self._start_triggers()  # by hand only: without a worker nothing runs here
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

    def _read_flows(self, why: str) -> None:
        flows_dir = self.options.flows_dir
        flows, self._read_files = read_without_code(flows_dir) if flows_dir.is_dir() else ([], [])
        for flow in flows:
            self._engine.flows.register(flow)
        off = f"off ({why})"
        self._features.update(flows=f"read once, handler code not loaded ({why})", runtime=off)
        if self.readonly:
            self._features.update(triggers=off, signals=f"{off}: other processes' changes show by polling")

    async def _start_signals(self) -> None:
        signaler = signaler_for(self.options.store_url)
        if signaler is None:  # memory: nobody else shares the store
            return
        if self.options.worker:
            self._signaler = Overheard(signaler, self._changes)  # the runtime starts and stops it
            return
        try:
            await signaler.start(self._changes.heard)
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
            server = await serve_http(self._observability.http(self._triggers), host, port)
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
