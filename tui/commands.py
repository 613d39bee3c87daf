"""The ``ctrl+p`` palette: find flows and executions by id and open them."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from flowmonkey import ExecutionQuery, Flow

if TYPE_CHECKING:
    from .backend import Backend

_EXECUTION_HITS = 10


class ConsoleCommands(Provider):
    """Flows (by id, from the registry) and executions (by id, from the store)."""

    def _backend(self) -> Backend | None:
        backend: Backend | None = getattr(self.app, "backend", None)
        return backend

    async def discover(self) -> Hits:
        backend = self._backend()
        if backend is None:
            return
        for flow in backend.engine.flows.latest():
            yield DiscoveryHit(
                f"flow {flow.id}",
                partial(self._open_flow, flow),
                help=f"{flow.version}, {len(flow.steps)} steps",
            )

    async def search(self, query: str) -> Hits:
        backend = self._backend()
        if backend is None:
            return
        matcher = self.matcher(query)
        for flow in backend.engine.flows.latest():
            score = matcher.match(f"flow {flow.id}")
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(f"flow {flow.id}"),
                    partial(self._open_flow, flow),
                    help=flow.version,
                )
        needle = query.strip()
        if len(needle) < 3:
            return  # an id search on a big store wants a few characters first
        page = await backend.store.list_executions(ExecutionQuery(id_contains=needle), limit=_EXECUTION_HITS)
        for execution in page.items:
            text = f"execution {execution.id}"
            yield Hit(
                1.0,
                matcher.highlight(text),
                partial(self._open_execution, execution.id),
                help=f"{execution.flow_id} {execution.status.value}",
            )

    def _open_flow(self, flow: Flow) -> None:
        from .screens.flow_detail import FlowDetailScreen

        self.app.push_screen(FlowDetailScreen(flow))

    def _open_execution(self, execution_id: str) -> None:
        from .screens.execution_detail import ExecutionDetailScreen

        backend = self._backend()
        if backend is not None:
            self.app.push_screen(ExecutionDetailScreen(backend, execution_id))
