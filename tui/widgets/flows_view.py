"""View 1: every flow, its live version, its executions and the last reload of its file."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist

from flowmonkey import Event, EventType, ExecutionQuery, Flow

from ..backend import Backend
from ..flowfiles_state import FLOW_FILE_EVENTS, FlowFileState
from ..format import DASH, cell, count_text
from .console_table import ConsoleTable
from .console_view import ConsoleView

_BROKEN = "file:"  # row keys of files that never loaded
_COUNT_INTERVAL = 2.0  # seconds between recounts caused by execution events


class FlowsView(ConsoleView):
    """Flows; a file that failed to (re)load shows its error in place, with file:line.

    Opening a flow and starting an execution are asked of the screen, by message.
    """

    class OpenRequested(Message):
        """The operator asked to see ``flow``'s steps (``enter``)."""

        def __init__(self, view: FlowsView, flow: Flow) -> None:
            super().__init__()
            self.view = view
            self.flow = flow

        @property
        def control(self) -> FlowsView:
            return self.view

    class StartRequested(Message):
        """The operator asked to start an execution of ``flow`` (``n``)."""

        def __init__(self, view: FlowsView, flow: Flow) -> None:
            super().__init__()
            self.view = view
            self.flow = flow

        @property
        def control(self) -> FlowsView:
            return self.view

    DEFAULT_CSS = """
    FlowsView #flow-problem { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("enter", "open", "Steps", id="flows.open", show=False),
        Binding("n", "start", "New execution", id="flows.start"),
    ]

    label = "Flows"

    def __init__(self, backend: Backend, *, id: str) -> None:
        super().__init__(backend, id=id)
        self._problems: dict[str, str] = {}
        self._shown: list[tuple[str, list[str], str]] = []
        self._last_reload = 0.0

    def compose_body(self) -> ComposeResult:
        self.table = ConsoleTable.with_columns(
            "flows-table",
            (
                ("flow", "FLOW", 14),
                ("version", "VER", 6),
                ("steps", "STEPS", 5),
                ("executions", "EXECUTIONS", 12),
                ("file", "FILE", 12),
                ("reload", "LAST RELOAD", 16),
            ),
        )
        yield self.table
        yield Static("", id="flow-problem")

    def note_event(self, event: Event) -> None:
        if event.type in FLOW_FILE_EVENTS:
            self.stale = True
        elif event.type is EventType.EXECUTION_CREATED or event.type.value.startswith("execution."):
            self.stale = self.stale or time.monotonic() - self._last_reload > _COUNT_INTERVAL

    async def reload(self) -> None:
        self._last_reload = time.monotonic()
        rows: list[tuple[str, list[str | Text], str]] = []
        needle = self.filter_text.lower()
        states = self.backend.file_states()
        by_flow = {state.flow_id: state for state in states if state.flow_id is not None}
        for flow in self.backend.flows():
            if needle in flow.id.lower():
                counts = await self.backend.count(ExecutionQuery(flow_id=flow.id))
                state = by_flow.get(flow.id)
                rows.append(
                    (
                        flow.id,
                        self._flow_cells(flow, count_text(counts, compact=True), state),
                        _problem(state),
                    )
                )
        for state in states:
            if state.flow_id is None and needle in state.name.lower():
                rows.append((_BROKEN + state.file, _broken_cells(state), state.problem))
        self._show(rows)

    def _flow_cells(self, flow: Flow, counts: Text, state: FlowFileState | None) -> list[str | Text]:
        return [flow.id, flow.version, str(len(flow.steps)), counts, _file(state), _reload_text(state)]

    def _show(self, rows: list[tuple[str, list[str | Text], str]]) -> None:
        shown = [(key, [str(cell) for cell in cells], problem) for key, cells, problem in rows]
        if shown == self._shown:
            return  # nothing changed: no redraw (polls and view switches happen often)
        self._shown = shown
        table = self.table
        keep = self._current_key()
        table.clear()
        self._problems = {}
        for key, cells, problem in rows:
            table.add_row(*map(cell, cells), key=key)
            self._problems[key] = problem
        if keep is not None and keep in self._problems:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self.set_title(f"{len(rows)} flows")
        self._show_problem()

    def _current_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate)[0].value
        except CellDoesNotExist:
            return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_problem()

    def _show_problem(self) -> None:
        key = self._current_key()
        problem = self._problems.get(key or "", "")
        broken = sum(1 for text in self._problems.values() if text)
        if problem:
            shown = Text(f"✘ {problem}", style="bold")
        elif broken:
            shown = Text(f"✘ {broken} flow file(s) failed to load: move to a ✘ row to see why", style="dim")
        else:
            shown = Text("")
        self.query_one("#flow-problem", Static).update(shown)

    def _current_flow(self) -> Flow | None:
        key = self._current_key()
        if key is None or key.startswith(_BROKEN):
            return None
        return self.backend.flow(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        flow = self._current_flow()
        if flow is not None:
            self.post_message(self.OpenRequested(self, flow))

    def action_start(self) -> None:
        flow = self._current_flow()
        if flow is None:
            self.app.bell()
            return
        self.post_message(self.StartRequested(self, flow))


def _file(state: FlowFileState | None) -> str:
    return DASH if state is None else state.name


def _reload_text(state: FlowFileState | None) -> Text:
    if state is None:
        return Text(DASH)
    if state.ok:
        return Text("✔ loaded", style="green")
    return Text(f"✘ {state.where or 'invalid'}", style="bold red")


def _problem(state: FlowFileState | None) -> str:
    return "" if state is None or state.ok else state.problem


def _broken_cells(state: FlowFileState) -> list[str | Text]:
    return [Text(f"({state.name})", style="dim"), DASH, DASH, Text(DASH), state.name, _reload_text(state)]
