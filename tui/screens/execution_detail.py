"""One execution: its step timeline, the selected step's input/output/error, the context.

Relative times tick (once a second, from what is shown: no store read); ``T`` shows the
moments in full. The keys offered are those that apply to the execution's status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist, ColumnDoesNotExist, RowDoesNotExist

from flowmonkey import Event, Execution, FlowMonkeyError, StepRecord

from .. import actions
from ..actions import ExecutionAction
from ..availability import USABLE, Availability, for_statuses, readonly_gate
from ..backend import Backend
from ..format import DASH, STATUS_STYLES, STATUS_SYMBOLS, ago, cell, duration_ms, short_id, status_text
from ..outcomes import ActionReport
from ..widgets.columns import Column, column_widths
from ..widgets.console_view import run_latest
from ..widgets.key_bar import KeyBar
from .raw_json import json_syntax
from .times import TimesScreen

_TICK = 1.0  # seconds between redraws of the relative times
TIMELINE = (
    Column(key="seq", label="#", width=3),
    Column(key="outcome", label="OUTCOME", width=12),
    Column(key="step", label="STEP", width=14, stretch=1.0, max_width=40),
    Column(key="attempt", label="ATT", width=3),
    Column(key="duration", label="DURATION", width=8),
    Column(key="at", label="AT", width=8),
)
CHILDREN = (
    Column(key="index", label="#", width=4),
    Column(key="id", label="CHILD", width=14),
    Column(key="flow", label="FLOW", width=14, stretch=1.0, max_width=30),
    Column(key="status", label="STATUS", width=12),
    Column(key="step", label="STEP", width=12),
)
_CHILDREN_SHOWN = 200


class ExecutionDetailScreen(Screen[None]):
    """Live detail of one execution; the same action keys as the lists act on it."""

    DEFAULT_CSS = """
    ExecutionDetailScreen #detail-summary { height: auto; padding: 0 1; background: $boost; }
    ExecutionDetailScreen #timeline { height: auto; max-height: 40%; }
    ExecutionDetailScreen #fan-progress { height: auto; padding: 0 1; }
    ExecutionDetailScreen #children { height: auto; max-height: 30%; }
    ExecutionDetailScreen #detail-body { height: 1fr; padding: 0 1; }
    ExecutionDetailScreen .section { text-style: bold; margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="detail.back"),
        *actions.EXECUTION_BINDINGS[1:],
        Binding("f", "fork", "Fork from step", id="detail.fork"),
        Binding("T", "times", "Times", id="detail.times", show=False),
        Binding("tab", "app.focus_next", "Scroll", show=False, id="detail.focus_next"),
    ]

    def __init__(self, backend: Backend, execution_id: str) -> None:
        super().__init__()
        self.backend = backend
        self.execution_id = execution_id
        self.execution: Execution | None = None
        self.history: list[StepRecord] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._stale = True
        # Kept, not queried: a reload that ends while the screen closes must find them.
        self._summary_line = Static("loading…", id="detail-summary")
        self._timeline: DataTable[str | Text] = DataTable(cursor_type="row", id="timeline")
        self._step_detail = Static("", id="step-detail")
        self._fan_progress = Static("", id="fan-progress")
        self._children: DataTable[str | Text] = DataTable(cursor_type="row", id="children")
        self._child_ids: list[str] = []
        self._context_json = Static("", id="context")

    def compose(self) -> ComposeResult:
        yield self._summary_line
        table = self._timeline
        for column, width in zip(TIMELINE, column_widths(TIMELINE, self.app.size.width), strict=True):
            table.add_column(column.label, key=column.key, width=width)
        yield table
        yield self._fan_progress
        children = self._children
        for column, width in zip(CHILDREN, column_widths(CHILDREN, self.app.size.width), strict=True):
            children.add_column(column.label, key=column.key, width=width)
        children.display = self._fan_progress.display = False
        yield children
        with VerticalScroll(id="detail-body"):
            yield self._step_detail
            yield Static("Context", classes="section")
            yield self._context_json
        yield KeyBar()

    def on_mount(self) -> None:
        self._unsubscribe = self.backend.subscribe(self._on_event)
        self.set_interval(0.1, self._flush)
        self.set_interval(_TICK, self._retime)
        self._flush()
        self._timeline.focus()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _on_event(self, event: Event) -> None:
        if event.execution_id == self.execution_id:
            self._stale = True

    def _flush(self) -> None:
        if self._stale:
            self._stale = False
            run_latest(self, self.reload, "reload")

    async def reload(self) -> None:
        execution = await self.backend.execution(self.execution_id)
        if execution is None:
            self._summary_line.update(Text(f"✘ no execution {self.execution_id}"))
            return
        status_changed = self.execution is None or self.execution.status is not execution.status
        self.execution = execution
        self.history = await self.backend.history(self.execution_id)
        self._summary_line.update(self._summary(execution))
        self._show_timeline()
        await self._show_children()
        self._context_json.update(json_syntax(execution.context))
        if status_changed:
            self.refresh_bindings()  # the keys that apply follow the status

    def _retime(self) -> None:
        """Move ``16s ago`` on as time passes, from what is shown (no store read)."""
        if self.execution is None:
            return
        self._summary_line.update(self._summary(self.execution))
        now = self.backend.now()
        for record in self.history:
            try:
                self._timeline.update_cell(str(record.sequence), "at", ago(record.finished_at, now))
            except (CellDoesNotExist, RowDoesNotExist, ColumnDoesNotExist):
                return  # a reload is redrawing the table

    def _summary(self, execution: Execution) -> Text:
        text = Text(f"Execution {execution.id}\n", style="bold")
        text.append(f"{execution.flow_id} {execution.flow_version}  hash {execution.flow_hash[:12]}  ")
        text.append_text(status_text(execution.status))
        text.append(f"  at {execution.current_step_id or DASH}")
        text.append(f"  started {ago(execution.created_at, self.backend.now())}")
        if execution.wait_reason:
            text.append(f"\nwaiting: {execution.wait_reason}")
        if execution.error is not None:
            text.append(
                f"\n✘ {execution.error.code}: {execution.error.message}", style=STATUS_STYLES["failed"]
            )
        text.append(links(execution))
        return text

    def _show_timeline(self) -> None:
        table = self._timeline
        row = table.cursor_row
        table.clear()
        now = self.backend.now()
        for record in self.history:
            outcome = Text(f"{STATUS_SYMBOLS.get(record.outcome, '?')} {record.outcome.value}")
            outcome.stylize(STATUS_STYLES.get(record.outcome, ""))
            cells: list[str | Text] = [
                str(record.sequence),
                outcome,
                record.step_id or DASH,
                str(record.attempt),
                duration_ms(record.duration_ms),
                ago(record.finished_at, now),
            ]
            table.add_row(*map(cell, cells), key=str(record.sequence))
        if self.history:
            table.move_cursor(row=min(row, len(self.history) - 1) if row >= 0 else 0, animate=False)
            self._show_step(table.cursor_row)
        else:
            self._step_detail.update(Text("no steps yet", style="dim"))

    async def _show_children(self) -> None:
        """A parallel or map step's children, in order, with its progress; enter opens one."""
        fan, children = await self.backend.fan(self.execution_id, limit=_CHILDREN_SHOWN)
        shown = fan is not None
        self._fan_progress.display = self._children.display = shown
        if fan is None:
            return
        more = f" (first {len(children)} shown)" if fan.started > len(children) else ""
        self._fan_progress.update(Text(f"Children of {fan.step_id}: {fan.progress()}{more}", style="bold"))
        table = self._children
        row = table.cursor_row
        table.clear()
        self._child_ids = [child.id for child in children]
        for index, child in enumerate(children):
            cells: list[str | Text] = [str(index), short_id(child.id, 14), child.flow_id]
            cells += [status_text(child.status), child.current_step_id or DASH]
            table.add_row(*map(cell, cells), key=child.id)
        if children:
            table.move_cursor(row=min(max(row, 0), len(children) - 1), animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table is self._children and 0 <= event.cursor_row < len(self._child_ids):
            self.app.push_screen(ExecutionDetailScreen(self.backend, self._child_ids[event.cursor_row]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self._children:
            return
        self._show_step(event.cursor_row)

    def _show_step(self, index: int) -> None:
        if not 0 <= index < len(self.history):
            return
        record = self.history[index]
        parts: list[RenderableType] = [
            Text(f"Step {record.step_id or DASH}  attempt {record.attempt}", style="bold")
        ]
        if record.note:
            parts.append(Text(record.note, style="italic"))
        for title, value in (("input", record.input), ("output", record.output)):
            parts.append(Text(title, style="bold"))
            parts.append(json_syntax(value))
        if record.error is not None:
            parts.append(Text("error", style="bold"))
            parts.append(json_syntax(record.error.to_dict()))
        self._step_detail.update(Group(*parts))

    def availability(self, action: str) -> Availability:
        """Whether ``action`` applies to this execution now (see :mod:`..availability`)."""
        if self.execution is not None:
            applies = for_statuses(action, [self.execution.status], short_id(self.execution_id, 14))
            if not applies.usable:
                return applies
        return readonly_gate(self.backend.readonly, action) or USABLE

    def action_times(self) -> None:
        execution = self.execution
        if execution is None:
            return
        times = [
            ("created", execution.created_at),
            ("updated", execution.updated_at),
            ("completed", execution.completed_at),
            ("waiting since", execution.waiting_since),
            ("wakes", execution.wake_at),
            ("times out", execution.timeout_at),
        ]
        row = self._timeline.cursor_row
        if 0 <= row < len(self.history):
            record = self.history[row]
            times += [(f"step {record.sequence} started", record.started_at)]
            times += [(f"step {record.sequence} finished", record.finished_at)]
        self.app.push_screen(TimesScreen(f"execution {execution.id}", times, self.backend.now()))

    def action_back(self) -> None:
        self.dismiss(None)

    def _run(self, action: ExecutionAction) -> None:
        self.run_worker(self._after(action(self.app, self.backend, [self.execution_id])), group="action")

    async def _after(self, pending: Awaitable[ActionReport | None]) -> None:
        try:
            await pending
        except FlowMonkeyError as exc:
            self.notify(str(exc), severity="error", markup=False)
        self._stale = True

    def action_resume(self) -> None:
        self._run(actions.resume)

    def action_cancel(self) -> None:
        self._run(actions.cancel)

    def action_retry(self) -> None:
        self._run(actions.retry)

    def action_skip(self) -> None:
        self._run(actions.skip)

    def action_fail(self) -> None:
        self._run(actions.fail)

    def action_fork(self) -> None:
        """Fork from the step of the selected timeline row, its context before it editable."""
        row = self._timeline.cursor_row
        if not 0 <= row < len(self.history) or self.history[row].step_id is None:
            self.notify("select a step in the timeline to fork from", severity="warning")
            return
        record = self.history[row]
        assert record.step_id is not None
        forking = actions.fork(self.app, self.backend, self.execution_id, record.step_id, record.visit)
        self.run_worker(self._after(_none(forking)), group="action")

    def action_copy(self) -> None:
        actions.copy_id(self.app, self.execution_id)

    def action_raw(self) -> None:
        self.run_worker(actions.show_raw(self.app, self.backend, [self.execution_id]), group="action")


async def _none(pending: Awaitable[None]) -> ActionReport | None:
    await pending
    return None


def links(execution: Execution) -> str:
    """Where a fork comes from and the forks made of it (ids in full: ``o``/search finds them)."""
    lines = ""
    origin = execution.metadata.get("forked_from")
    if isinstance(origin, dict):
        lines += f"\nforked from {origin.get('execution_id')} at step {origin.get('step_id')}"
    forks = execution.metadata.get("forks")
    if isinstance(forks, list) and forks:
        lines += (
            "\nforks: "
            + ", ".join(str(f) for f in forks[-3:])
            + (f" (+{len(forks) - 3})" if len(forks) > 3 else "")
        )
    return lines
