"""View 1: every flow, its live version, its executions, its health over the last hour (success
rate, p95 duration, starts per minute) and the last reload of its file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from flowmonkey import Event, EventType, ExecutionQuery, ExecutionStatus, Flow, FlowHealth

from ..availability import Availability, hidden
from ..backend import Backend
from ..flowfiles_state import FLOW_FILE_EVENTS, FlowFileState
from ..format import DASH, cell, count_text, elide_file
from .columns import Column
from .console_view import ConsoleView, RowTimes
from .health import p95_text, rate_text, spark_text, starts_summary

_BROKEN = "file:"  # row keys of files that never loaded
_OLDER_SCAN = 10_000  # active executions looked at for older definitions, per flow
ACTIVE = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING, ExecutionStatus.HELD)
_COUNT_INTERVAL = 2.0  # seconds between recounts caused by execution events
_NOT_YET = Text("…", style="dim")  # a cell the store has not answered for yet


class FlowsView(ConsoleView):
    """Flows; a file that failed to (re)load shows its error in place, with file:line.

    Opening a flow and starting an execution are asked of the screen, by message.
    """

    class FlowMessage(Message):
        """Something the operator asked of ``flow`` in ``view``."""

        def __init__(self, view: FlowsView, flow: Flow) -> None:
            super().__init__()
            self.view = view
            self.flow = flow

        @property
        def control(self) -> FlowsView:
            return self.view

    class OpenRequested(FlowMessage):
        """The operator asked to see ``flow``'s steps (``enter``)."""

    class MigrateRequested(FlowMessage):
        """Move the flow's executions on older definitions to its live one (``m``)."""

    class StartRequested(FlowMessage):
        """The operator asked to start an execution of ``flow`` (``n``)."""

    DEFAULT_CSS = """
    FlowsView #flow-problem { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    FlowsView #flow-starts { height: 1; padding: 0 1; }
    FlowsView #flow-starts Static { width: auto; color: $text-muted; padding-right: 2; }
    FlowsView #flow-starts Sparkline { width: 1fr; }
    """

    BINDINGS = [
        Binding("enter", "open", "Steps", id="flows.open"),
        Binding("n", "start", "New execution", id="flows.start"),
        Binding("m", "migrate", "Migrate", id="flows.migrate"),
    ]

    COLUMNS = (
        Column(key="flow", label="FLOW", width=14, stretch=0.4, max_width=40),
        Column(key="version", label="VER", width=6),
        Column(key="steps", label="STEPS", width=5),
        Column(key="executions", label="EXECUTIONS", width=10, stretch=0.1, max_width=30),
        Column(key="file", label="FILE", width=12, stretch=0.2, max_width=40),
        Column(key="reload", label="LAST RELOAD", width=20, stretch=0.3, max_width=60),
        Column(key="ok", label="OK 1H", width=5),
        Column(key="p95", label="P95 1H", width=6),
        Column(key="starts", label="STARTS/MIN", width=10, stretch=0.1, max_width=30),
    )
    label = "Flows"

    def __init__(self, backend: Backend, *, id: str) -> None:
        super().__init__(backend, id=id)
        self._problems: dict[str, str] = {}
        self._shown: list[tuple[str, list[str], str]] = []
        self._last_reload = 0.0
        self._health: dict[str, FlowHealth] = {}
        self._counts: dict[str, dict[ExecutionStatus, int]] = {}
        self._older: dict[str, int] = {}  # flow id -> active executions on older definitions

    def compose_body(self) -> ComposeResult:
        yield from super().compose_body()
        yield Static("", id="flow-problem")
        with Horizontal(id="flow-starts"):
            yield Static("")
            yield Sparkline([], summary_function=max)

    def columns_changed(self) -> None:
        self._shown = []  # drawn at the old widths
        super().columns_changed()

    def note_event(self, event: Event) -> None:
        if event.type in FLOW_FILE_EVENTS:
            self.stale = True
        elif event.type is EventType.EXECUTION_CREATED or event.type.value.startswith("execution."):
            self.stale = self.stale or time.monotonic() - self._last_reload > _COUNT_INTERVAL

    async def reload(self) -> None:
        self._last_reload = time.monotonic()
        needle = self.filter_text.lower()
        states = self.backend.file_states()
        flows = [flow for flow in self.backend.flows() if needle in flow.id.lower()]
        # The rows first (the flows are in memory), with the counts of the last reload; then
        # the counts, the last hour's health (a query per flow) and the older definitions (a
        # scan) as they come in: on a store of a million executions the rows do not wait.
        self._draw(flows, [self._counts.get(flow.id) for flow in flows], states)
        # All at once: the store's reader (or pool) takes them back to back, not one per turn.
        counts = await asyncio.gather(*(self.backend.count(ExecutionQuery(flow_id=f.id)) for f in flows))
        self._counts = {flow.id: flow_counts for flow, flow_counts in zip(flows, counts, strict=True)}
        self._draw(flows, counts, states)
        health = await asyncio.gather(*(self.backend.flow_health(flow.id) for flow in flows))
        self._health = {flow.id: flow_health for flow, flow_health in zip(flows, health, strict=True)}
        self._draw(flows, counts, states)
        older = {}
        for flow, flow_counts in zip(flows, counts, strict=True):
            active = sum(flow_counts.get(status, 0) for status in ACTIVE)
            older[flow.id] = await self._on_older_definitions(flow) if active else 0
        self._older = older
        self.screen.refresh_bindings()  # m (migrate) is there only for older definitions

    def _draw(
        self,
        flows: list[Flow],
        counts: Sequence[dict[ExecutionStatus, int] | None],
        states: list[FlowFileState],
    ) -> None:
        needle = self.filter_text.lower()
        by_flow = {state.flow_id: state for state in states if state.flow_id is not None}
        rows: list[tuple[str, list[str | Text], str]] = []
        for flow, flow_counts in zip(flows, counts, strict=True):
            state = by_flow.get(flow.id)
            counted = _NOT_YET if flow_counts is None else count_text(flow_counts, compact=True)
            cells = self._flow_cells(flow, counted, state)
            rows.append((flow.id, [*cells, *self._health_cells(self._health.get(flow.id))], _problem(state)))
        for state in states:
            if state.flow_id is None and needle in state.name.lower():
                rows.append((_BROKEN + state.file, self._broken_cells(state), state.problem))
        self._show(rows)

    async def _on_older_definitions(self, flow: Flow) -> int:
        """How many active executions of ``flow`` run on another definition than its live
        one (a file reloaded since they started); counted up to :data:`_OLDER_SCAN`."""
        query, cursor, older, seen = ExecutionQuery(flow_id=flow.id, statuses=ACTIVE), None, 0, 0
        while seen < _OLDER_SCAN:
            page = await self.backend.executions(query, limit=500, cursor=cursor)
            seen += len(page.items)
            older += sum(1 for execution in page.items if execution.flow_hash != flow.hash)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return older

    def _flow_cells(self, flow: Flow, counts: Text, state: FlowFileState | None) -> list[str | Text]:
        reload = self._reload_text(state)
        return [flow.id, flow.version, str(len(flow.steps)), counts, _file(state), reload]

    def _health_cells(self, health: FlowHealth | None) -> list[str | Text]:
        if health is None:  # not counted yet
            return [_NOT_YET, _NOT_YET, ""]
        starts = spark_text(health.started_per_minute, self.widths.get("starts", 10))
        return [rate_text(health), p95_text(health), starts]

    def _reload_text(self, state: FlowFileState | None) -> Text:
        if state is None:
            return Text(DASH)
        if state.ok:
            return Text("✔ loaded", style="green")
        # ``✘ file:line:col``: cut the name, never where in it (the part that is new).
        where = elide_file(state.where or "invalid", self.widths.get("reload", 20) - 2)
        return Text(f"✘ {where}", style="bold red")

    def _broken_cells(self, state: FlowFileState) -> list[str | Text]:
        name = Text(f"({state.name})", style="dim")
        return [name, DASH, DASH, Text(DASH), state.name, self._reload_text(state), DASH, DASH, DASH]

    def _show(self, rows: list[tuple[str, list[str | Text], str]]) -> None:
        shown = [(key, [str(cell) for cell in cells], problem) for key, cells, problem in rows]
        if shown == self._shown:
            return  # nothing changed: no redraw (polls and view switches happen often)
        self._shown = shown
        table = self.table
        keep = self.current_key()
        table.clear()
        self._problems = {}
        for key, cells, problem in rows:
            table.add_row(*map(cell, cells), key=key)
            self._problems[key] = problem
        if keep is not None and keep in self._problems:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self.set_title(f"{len(rows)} flows")
        self._show_problem()
        self._show_starts()
        self.screen.refresh_bindings()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_problem()
        self._show_starts()
        self.screen.refresh_bindings()

    def availability(self, action: str) -> Availability:
        if action in ("open", "start", "migrate") and self._current_flow() is None:
            return hidden("no flow here: a file that failed to load has none (its error is below)")
        if action == "migrate" and not self._older.get(self.current_key() or ""):
            return hidden("no execution of this flow runs on an older definition")
        return super().availability(action)

    def row_times(self) -> RowTimes | None:
        key = self.current_key()
        states = {state.flow_id: state for state in self.backend.file_states() if state.flow_id}
        states |= {_BROKEN + state.file: state for state in self.backend.file_states()}
        state = states.get(key or "")
        if state is None:
            return None
        return f"flow file {state.file}", [("last loaded", state.loaded_at)]

    def _show_problem(self) -> None:
        key = self.current_key()
        problem = self._problems.get(key or "", "")
        broken = sum(1 for text in self._problems.values() if text)
        older = self._older.get(key or "", 0)
        if problem:
            shown = Text(f"✘ {problem}", style="bold")
        elif older:
            shown = Text(f"{older:,} executions on older definitions — m to migrate", style="bold yellow")
        elif broken:
            shown = Text(f"✘ {broken} flow file(s) failed to load: move to a ✘ row to see why", style="dim")
        else:
            shown = Text("")
        self.query_one("#flow-problem", Static).update(shown)

    def _show_starts(self) -> None:
        """The highlighted flow's starts per minute over the last hour, drawn full width."""
        key = self.current_key() or ""
        health = self._health.get(key)
        # At 80 columns the health columns are past the table's edge: this line has them.
        label = f"{key}: {starts_summary(health)}" if health is not None else ""
        self.query_one("#flow-starts Static", Static).update(Text(label))
        self.query_one("#flow-starts Sparkline", Sparkline).data = (
            list(health.started_per_minute) if health else []
        )

    def _current_flow(self) -> Flow | None:
        key = self.current_key()
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

    def action_migrate(self) -> None:
        flow = self._current_flow()
        if flow is not None:
            self.post_message(self.MigrateRequested(self, flow))

    def action_start(self) -> None:
        flow = self._current_flow()
        if flow is None:
            self.app.bell()
            return
        self.post_message(self.StartRequested(self, flow))


def _file(state: FlowFileState | None) -> str:
    return DASH if state is None else state.name


def _problem(state: FlowFileState | None) -> str:
    return "" if state is None or state.ok else state.problem
