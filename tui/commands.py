"""The ``ctrl+p`` palette: find flows and executions by id and open them.

An execution is found by any part of its id (the two characters a list shows after the
``…`` are enough).
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from flowmonkey import ExecutionQuery, Flow

from .backend import Backend
from .screens.execution_detail import ExecutionDetailScreen
from .screens.main import MainScreen, flow_detail

_EXECUTION_HITS = 10
_ID_PART = 2  # characters of an id before the store is searched


class ConsoleCommands(Provider):
    """Flows (by id, from the registry) and executions (by id, from the store)."""

    def _backend(self) -> Backend | None:
        # The palette opens over any screen; the main screen, under them all, has the backend.
        for screen in self.app.screen_stack:
            if isinstance(screen, MainScreen):
                return screen.backend
        return None

    async def discover(self) -> Hits:
        backend = self._backend()
        if backend is None:
            return
        for flow in backend.flows():
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
        for flow in backend.flows():
            score = matcher.match(f"flow {flow.id}")
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(f"flow {flow.id}"),
                    partial(self._open_flow, flow),
                    help=flow.version,
                )
        needle = query.strip()
        if len(needle) < _ID_PART:
            return  # one character matches nearly every id: no search for that
        page = await backend.executions(ExecutionQuery(id_contains=needle), limit=_EXECUTION_HITS)
        for execution in page.items:
            text = f"execution {execution.id}"
            yield Hit(
                1.0,
                matcher.highlight(text),
                partial(self._open_execution, backend, execution.id),
                help=f"{execution.flow_id} {execution.status.value}",
            )

    def _open_flow(self, flow: Flow) -> None:
        backend = self._backend()
        if backend is not None:
            self.app.push_screen(flow_detail(backend, flow))

    def _open_execution(self, backend: Backend, execution_id: str) -> None:
        self.app.push_screen(ExecutionDetailScreen(backend, execution_id))
