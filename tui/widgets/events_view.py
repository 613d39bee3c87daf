"""View 5: what happens in the store, from every process, newest at the bottom.

The rows are the store's change feed (every history record any process commits: runs,
resumes, cancels from the CLI or another worker as well as this console's own), read
when the view is shown, when a signal says another process changed something, when this
console changes an execution, and every half second while the view is shown (a signal
says what became runnable, not each step another process commits); plus this console's own events
that have no history record (flow files, triggers, jobs). ``enter`` opens the row's
execution; ``/`` keeps the rows whose text contains the filter.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message

from flowmonkey import Event, FeedEntry, FlowMonkeyError

from ..availability import Availability, hidden
from ..backend import Backend
from ..format import DASH, cell, clock_time, short_id
from .columns import ID_WIDTH, Column
from .console_view import ConsoleView, RowTimes

log = logging.getLogger(__name__)

KEEP = 1000  # rows remembered for filtering
SHOW = 300  # rows in the table
PAGE = 500  # feed records read at a time
PAGES_PER_READ = 4  # a backlog beyond this is read on the next tick
FEED_POLL = 0.5  # seconds: signals say what became runnable, not every step another process commits


class EventRow(NamedTuple):
    """One row: a history record of the feed, or one of this console's own events."""

    at: datetime
    kind: str
    flow_id: str | None
    execution_id: str | None
    step_id: str | None
    detail: str = ""


def from_entry(entry: FeedEntry) -> EventRow:
    record = entry.record
    detail = " ".join(
        part
        for part in (record.note, record.error.message if record.error else None, record.next_step_id)
        if part
    )
    return EventRow(
        record.finished_at,
        f"step.{record.outcome.value}",
        entry.flow_id,
        record.execution_id,
        record.step_id,
        detail,
    )


def from_event(event: Event) -> EventRow:
    return EventRow(event.at, event.type.value, event.flow_id, None, event.step_id, str(event.data))


class EventsView(ConsoleView):
    """The store's history as it is committed; ``enter`` opens the execution of a row."""

    class OpenRequested(Message):
        """The operator asked to open ``execution_id`` (``enter`` on an event)."""

        def __init__(self, view: EventsView, execution_id: str) -> None:
            super().__init__()
            self.view = view
            self.execution_id = execution_id

        @property
        def control(self) -> EventsView:
            return self.view

    BINDINGS = [Binding("enter", "open", "Open execution", id="events.open")]

    COLUMNS = (
        Column(key="at", label="TIME", width=8),
        Column(key="type", label="TYPE", width=19),
        Column(key="flow", label="FLOW", width=12, stretch=0.5, max_width=40),
        Column(key="execution", label="EXECUTION", width=10, max_width=ID_WIDTH - 1, first=True),
        Column(key="step", label="STEP", width=9, stretch=0.5, max_width=32),
    )
    label = "Events"

    def __init__(self, backend: Backend, *, id: str) -> None:
        super().__init__(backend, id=id)
        self.rows: deque[EventRow] = deque(maxlen=KEEP)
        # Bounded: while another view is shown, own events pile up here until this one is.
        self._pending: deque[EventRow] = deque(maxlen=SHOW)
        self._serial = 0
        self._shown: dict[str, EventRow] = {}  # row key -> the row
        self._redraw = False
        self._cursor: str | None = None  # the feed's position (None: start at its newest)
        self._reading = False
        self._read_at = 0.0
        self._failing = ""  # the last error reading the feed (logged once)
        self._stop_hearing: Callable[[], None] | None = None

    def on_mount(self) -> None:
        self._stop_hearing = self.backend.on_store_change(self.request_reload)

    def on_unmount(self) -> None:
        if self._stop_hearing is not None:
            self._stop_hearing()

    def columns_changed(self) -> None:
        self._redraw = True
        self.flush()

    def row_times(self) -> RowTimes | None:
        row = self._shown.get(self.current_key() or "")
        if row is None:
            return None
        return f"event {row.kind}", [("at", row.at)]

    def note_event(self, event: Event) -> None:
        if event.execution_id is not None:
            self.stale = True  # its history record is in the feed
            return
        row = from_event(event)
        self.rows.append(row)
        self._pending.append(row)

    def flush(self) -> None:
        if self._redraw:
            self._redraw = False
            self._pending.clear()
            self._rebuild()
        elif self._pending:
            pending = list(self._pending)
            self._pending.clear()
            self._append(pending)
        due = self.stale or time.monotonic() - self._read_at >= FEED_POLL
        if due and not self._reading:  # while reading, stale stays: read again after
            self.stale = False
            self._read_at = time.monotonic()
            self._reading = True
            self.run_worker(self._read_feed(), group="feed")

    async def _read_feed(self) -> None:
        try:
            for _ in range(PAGES_PER_READ):
                page = await self.backend.feed(self._cursor, limit=PAGE)
                self._failing = ""
                self._cursor = page.cursor
                rows = [from_entry(entry) for entry in page.entries]
                self.rows.extend(rows)
                self._append(rows)
                if len(page.entries) < PAGE:
                    return
            self.stale = True  # more behind: the next tick reads on
        except FlowMonkeyError as exc:  # unreachable now; the next poll tries again
            if str(exc) != self._failing:  # once, not every half second
                log.warning("reading the change feed failed: %s", exc)
            self._failing = str(exc)
            self.set_title(f"✘ the store's feed: {exc}")
        finally:
            self._reading = False

    def _matches(self, row: EventRow) -> bool:
        needle = self.filter_text.lower()
        return not needle or needle in _haystack(row)

    def apply_filter(self, text: str) -> str | None:
        self.filter_text = text.strip()
        self._redraw = True
        self.flush()
        return None

    def _rebuild(self) -> None:
        self.table.clear()
        self._shown = {}
        self._append(list(self.rows))

    def _append(self, rows: list[EventRow]) -> None:
        table = self.table
        follow = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        id_width = self.widths.get("execution", 10)
        for row in rows:
            if self._matches(row):
                self._serial += 1
                key = str(self._serial)
                self._shown[key] = row
                table.add_row(*map(cell, _cells(row, id_width)), key=key)
        while table.row_count > SHOW:
            oldest = table.coordinate_to_cell_key(Coordinate(0, 0))[0]
            self._shown.pop(oldest.value or "", None)
            table.remove_row(oldest)
        if follow and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)
        self.set_title(f"{table.row_count} shown of {len(self.rows)}")

    def on_data_table_row_highlighted(self) -> None:
        self.screen.refresh_bindings()  # enter applies to rows of an execution

    def current_execution(self) -> str | None:
        row = self._shown.get(self.current_key() or "")
        return row.execution_id if row is not None else None

    def availability(self, action: str) -> Availability:
        if action == "open" and self.current_execution() is None:
            return hidden("this event belongs to no execution" if self._shown else "")
        return super().availability(action)

    def action_open(self) -> None:
        execution_id = self.current_execution()
        if execution_id is not None:
            self.post_message(self.OpenRequested(self, execution_id))


def _cells(row: EventRow, id_width: int) -> list[str | Text]:
    return [
        clock_time(row.at),
        row.kind,
        row.flow_id or DASH,
        short_id(row.execution_id, id_width) if row.execution_id else DASH,
        row.step_id or DASH,
    ]


def _haystack(row: EventRow) -> str:
    parts = [row.kind, row.flow_id or "", row.execution_id or "", row.step_id or "", row.detail]
    return " ".join(parts).lower()
