"""The base of the Executions and Waits views: one page of executions from the store.

Rows are keyed by execution id. Engine events mark rows dirty; the refresh tick updates
only the cells that changed (``update_cell``), and reloads the page when rows come or go.
Only one page is ever held, so a store of a million executions costs the same as ten.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from flowmonkey import Event, EventType, Execution, ExecutionQuery, ExecutionStatus

from .. import actions
from ..actions import ExecutionActionName
from ..availability import Availability
from ..backend import Backend
from ..filters import ExecutionFilter, FilterError, parse_filter, typing_a_key
from ..format import cell, short_id
from ..outcomes import ActionReport
from .columns import Cell, Column
from .console_view import ConsoleView, RowTimes, run_latest
from .selection import applicability, targets

_SORTS: tuple[tuple[str, str | None], ...] = (
    ("newest", None),
    ("flow", "flow"),
    ("status", "status"),
    ("step", "step"),
)
_ARRIVALS_EVERY = 0.25  # seconds between page reloads caused by new executions
_RECOUNT_AFTER = 2.0  # seconds a total may be old before a reload recounts it
_PAGE_CHROME = 6  # header, tabs, view title, table header, status line, footer
MARK = "●"


class ExecutionListView(ConsoleView):
    """A page of executions with marks, paging, client-side sort and the execution actions.

    The actions are asked of the screen (it opens the dialogs): the view posts
    :class:`OpenRequested`, :class:`ActionRequested` or :class:`CopyRequested`, and the
    screen calls :meth:`finish_action` with the outcome.
    """

    class OpenRequested(Message):
        """The operator asked to open ``execution_id`` (``enter``)."""

        def __init__(self, view: ExecutionListView, execution_id: str) -> None:
            super().__init__()
            self.view = view
            self.execution_id = execution_id

        @property
        def control(self) -> ExecutionListView:
            return self.view

    class ActionRequested(Message):
        """The operator asked for ``action`` on ``execution_ids`` (the marked, else the cursor's)."""

        def __init__(
            self, view: ExecutionListView, action: ExecutionActionName, execution_ids: list[str]
        ) -> None:
            super().__init__()
            self.view = view
            self.action = action
            self.execution_ids = execution_ids

        @property
        def control(self) -> ExecutionListView:
            return self.view

    class CopyRequested(Message):
        """The operator asked to copy ``execution_id`` to the clipboard (``c``)."""

        def __init__(self, view: ExecutionListView, execution_id: str) -> None:
            super().__init__()
            self.view = view
            self.execution_id = execution_id

        @property
        def control(self) -> ExecutionListView:
            return self.view

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    VIEW_STATUSES: ClassVar[tuple[ExecutionStatus, ...]] = ()

    BINDINGS = [
        *actions.EXECUTION_BINDINGS,
        Binding("space", "mark", "Mark", id="list.mark"),
        Binding("u", "unmark", "Unmark all", id="list.unmark", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", id="list.next_page", show=False),
        Binding("left_square_bracket", "page(-1)", "Prev page", id="list.prev_page", show=False),
        Binding("s", "sort", "Sort", id="list.sort", show=False),
    ]

    def __init__(self, backend: Backend, *, id: str, page_size: int | None = None) -> None:
        super().__init__(backend, id=id)
        self.filter = ExecutionFilter()
        self.marked: set[str] = set()
        self.rows: dict[str, Execution] = {}
        self._drawn: dict[str, list[Cell]] = {}
        self._columns_for = 0
        self.page_size = page_size
        self._cursors: list[str | None] = [None]
        self._next_cursor: str | None = None
        self._dirty: set[str] = set()
        self._total: int | None = None
        self._counted_at = 0.0
        self._loaded_at = 0.0
        self._arrivals = False
        self._global_counts: dict[ExecutionStatus, int] | None = None
        self._sort = 0

    def columns_changed(self) -> None:
        self.rows, self._drawn = {}, {}
        super().columns_changed()

    # -- what is selected, and what can be done with it ---------------------------------

    def current_id(self) -> str | None:
        return self.current_key()

    def target_ids(self, action: str | None = None) -> list[str]:
        """The marked executions that ``action`` applies to, else the one under the cursor."""
        return targets(action, self.current_id(), self.rows, self.marked)

    def availability(self, action: str) -> Availability:
        applicable = applicability(action, self.current_id(), self.rows, self.marked)
        return applicable if not applicable.usable else super().availability(action)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.screen.refresh_bindings()  # the keys that apply follow the selected row

    def row_times(self) -> RowTimes | None:
        current = self.current_id()
        execution = self.rows.get(current or "")
        if execution is None:
            return None
        return f"execution {execution.id}", [
            ("created", execution.created_at),
            ("updated", execution.updated_at),
            ("completed", execution.completed_at),
            ("waiting since", execution.waiting_since),
            ("wakes", execution.wake_at),
            ("times out", execution.timeout_at),
        ]

    # -- loading ----------------------------------------------------------------------

    def store_query(self, now: datetime) -> ExecutionQuery:
        return self.filter.query(now, statuses=self.VIEW_STATUSES)

    async def reload(self) -> None:
        now = self.backend.now()
        query = self.store_query(now)
        size = self.page_size or max(5, self.app.size.height - _PAGE_CHROME)
        page = await self.backend.executions(query, limit=size, cursor=self._cursors[-1])
        self._next_cursor = page.next_cursor
        self._show(page.items, now)
        if self._total is None or time.monotonic() - self._counted_at > _RECOUNT_AFTER:
            # Counting is slower than a page on a big store: it must not delay the page.
            run_latest(self, self.recount, "count")

    async def recount(self) -> None:
        """Refresh the total shown as ``1-18 of 1,284``."""
        self._counted_at = time.monotonic()
        query = self.store_query(self.backend.now())
        if self._global_counts is not None and _by_status_only(query):
            counts = self._global_counts
        else:
            counts = await self.backend.count(query)
        self._total = _total(counts, query)
        self._show_title()

    def use_global_counts(self, counts: dict[ExecutionStatus, int]) -> None:
        """Take the total from the status bar's counts when the filter allows (no query)."""
        self._global_counts = counts
        query = self.store_query(self.backend.now())
        if _by_status_only(query):
            self._total = _total(counts, query)
            self._counted_at = time.monotonic()
            if self.is_mounted:
                self._show_title()

    def _show(self, items: list[Execution], now: datetime) -> None:
        table = self.table
        ids = [e.id for e in items]
        if ids == list(self.rows) and table.row_count == len(ids):
            for execution in items:
                self._update_row(execution, now)
        else:
            self._rebuild(items, now)
        self._show_title()

    def _rebuild(self, items: list[Execution], now: datetime) -> None:
        table = self.table
        keep = self.current_id()
        table.clear()
        self.rows = {}
        self._drawn = {}
        for execution in items:
            self.rows[execution.id] = execution
            cells = self._drawn[execution.id] = self._cells(execution, now)
            table.add_row(*cells, key=execution.id)
        self._apply_sort()
        if keep in self.rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self.screen.refresh_bindings()  # the row under the cursor may be another one now

    def _update_row(self, execution: Execution, now: datetime) -> None:
        table = self.table
        before = self.rows.get(execution.id)
        self.rows[execution.id] = execution
        if before is not None and before.status is not execution.status and execution.id == self.current_id():
            self.screen.refresh_bindings()
        # Compared with what is on screen, so "2m ago" moves on as time passes.
        old_cells = self._drawn.get(execution.id)
        new_cells = self._drawn[execution.id] = self._cells(execution, now)
        for index, (column, value) in enumerate(zip(self.COLUMNS, new_cells, strict=True)):
            if old_cells is not None and _same(old_cells[index], value):
                continue
            try:
                table.update_cell(execution.id, column.key, value)
            except (CellDoesNotExist, RowDoesNotExist):
                return

    def _cells(self, execution: Execution, now: datetime) -> list[Cell]:
        cells: list[Cell] = [cell(column.render(execution, now)) for column in self.COLUMNS if column.render]
        mark = MARK if execution.id in self.marked else " "
        cells[0] = Text(mark + short_id(execution.id, self.widths.get("id", 11) - 1))  # whole when it fits
        return cells

    def _show_title(self) -> None:
        first = (len(self._cursors) - 1) * (self.page_size or max(5, self.app.size.height - _PAGE_CHROME)) + 1
        shown = len(self.rows)
        total = "?" if self._total is None else f"{self._total:,}"
        right = f"{first:,}-{first + shown - 1:,} of {total}" if shown else f"0 of {total}"
        extra = []
        if _SORTS[self._sort][1]:
            extra.append(f"sort:{_SORTS[self._sort][0]}")
        if self.marked:
            extra.append(f"{MARK} {len(self.marked)} marked")
        self.set_title(right, "  ".join(extra))

    # -- live updates -----------------------------------------------------------------

    def note_event(self, event: Event) -> None:
        if event.execution_id is None:
            return
        if event.execution_id in self.rows:
            self._dirty.add(event.execution_id)
            if self.VIEW_STATUSES and event.type in _STATUS_CHANGES:
                self._arrivals = True  # it may leave this view
        elif len(self._cursors) == 1 and event.type in _ARRIVALS:
            self._arrivals = True

    def flush(self) -> None:
        # Rows coming or going redraw the whole page: under load that is done at most
        # every _ARRIVALS_EVERY seconds, so keystrokes keep the loop to themselves.
        if self._arrivals and time.monotonic() - self._loaded_at >= _ARRIVALS_EVERY:
            self.stale = True
        if self.stale:
            self._dirty.clear()
            self._arrivals = False
            self._loaded_at = time.monotonic()
            super().flush()
        elif self._dirty:
            dirty, self._dirty = self._dirty, set()
            self.run_worker(self._refresh_rows(dirty), group="rows")

    async def _refresh_rows(self, ids: set[str]) -> None:
        now = self.backend.now()
        for execution_id in ids:
            execution = await self.backend.execution(execution_id)
            if execution is not None and execution_id in self.rows:
                self._update_row(execution, now)

    # -- filter, paging, sort, marks ----------------------------------------------------

    def _parse(self, text: str) -> ExecutionFilter | str:
        """The filter, or what is wrong with it."""
        try:
            parsed = parse_filter(text, flow_ids=[flow.id for flow in self.backend.flows()])
        except FilterError as exc:
            return str(exc)
        if self.VIEW_STATUSES and not set(parsed.statuses) <= set(self.VIEW_STATUSES):
            shown = ", ".join(s.value for s in self.VIEW_STATUSES)
            return f"{self.label} shows only {shown}; 2 shows all"
        return parsed

    def check_filter(self, text: str) -> str | None:
        if typing_a_key(text):
            return ""
        parsed = self._parse(text)
        return parsed if isinstance(parsed, str) else None

    def apply_filter(self, text: str) -> str | None:
        parsed = self._parse(text)
        if isinstance(parsed, str):
            return parsed
        if parsed == self.filter:
            return None  # typing a space, say: nothing to reload
        self.filter = parsed
        self.filter_text = self.filter.text
        self._cursors = [None]
        self._total = None
        self.request_reload()
        self.flush()
        return None

    def action_page(self, direction: int) -> None:
        if direction > 0 and self._next_cursor is not None:
            self._cursors.append(self._next_cursor)
        elif direction < 0 and len(self._cursors) > 1:
            self._cursors.pop()
        else:
            self.app.bell()
            return
        self.request_reload()
        self.flush()

    def action_sort(self) -> None:
        self._sort = (self._sort + 1) % len(_SORTS)
        if _SORTS[self._sort][1] is None:
            self.request_reload()  # back to the store's order: newest first
            self.flush()
        else:
            self._apply_sort()
            self._show_title()

    def _apply_sort(self) -> None:
        key = _SORTS[self._sort][1]
        if key is not None and key in {c.key for c in self.COLUMNS}:
            self.table.sort(key, key=_plain)

    def action_mark(self) -> None:
        current = self.current_id()
        if current is None:
            return
        self.marked.symmetric_difference_update({current})
        self._redraw_mark(current)
        self.table.action_cursor_down()
        self._show_title()
        self.screen.refresh_bindings()

    def action_unmark(self) -> None:
        marked, self.marked = self.marked, set()
        for execution_id in marked:
            self._redraw_mark(execution_id)
        self._show_title()
        self.screen.refresh_bindings()

    def _redraw_mark(self, execution_id: str) -> None:
        execution = self.rows.get(execution_id)
        if execution is not None:
            self._update_row(execution, self.backend.now())

    # -- actions ----------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        current = self.current_id()
        if current is not None:
            self.post_message(self.OpenRequested(self, current))

    def _request(self, action: ExecutionActionName) -> None:
        ids = self.target_ids(action)
        if ids:
            self.post_message(self.ActionRequested(self, action, ids))

    def finish_action(self, report: ActionReport | None) -> None:
        """What an action asked by this view did: changes clear the marks and reload."""
        if report is not None and report.done:
            self.marked.clear()
            self.request_reload()
            self.flush()
            self.screen.refresh_bindings()

    def action_resume(self) -> None:
        self._request("resume")

    def action_cancel(self) -> None:
        self._request("cancel")

    def action_retry(self) -> None:
        self._request("retry")

    def action_skip(self) -> None:
        self._request("skip")

    def action_fail(self) -> None:
        self._request("fail")

    def action_copy(self) -> None:
        current = self.current_id()
        if current is not None:
            self.post_message(self.CopyRequested(self, current))

    def action_raw(self) -> None:
        current = self.current_id()
        if current is not None:
            self.post_message(self.ActionRequested(self, "raw", [current]))


_ARRIVALS = frozenset({EventType.EXECUTION_CREATED, EventType.EXECUTION_WAITING})
_STATUS_CHANGES = frozenset(
    {
        EventType.EXECUTION_RESUMED,
        EventType.EXECUTION_COMPLETED,
        EventType.EXECUTION_FAILED,
        EventType.EXECUTION_CANCELLED,
        EventType.EXECUTION_STARTED,
    }
)


def _by_status_only(query: ExecutionQuery) -> bool:
    """Whether the totals by status (counted anyway for the status bar) answer ``query``."""
    return query == ExecutionQuery(statuses=query.statuses)


def _total(counts: dict[ExecutionStatus, int], query: ExecutionQuery) -> int:
    return sum(n for status, n in counts.items() if not query.statuses or status in query.statuses)


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _same(a: Cell, b: Cell) -> bool:
    return _plain(a) == _plain(b) and (
        not isinstance(a, Text) or not isinstance(b, Text) or a.style == b.style
    )
