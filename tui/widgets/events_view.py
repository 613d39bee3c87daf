"""View 5: the live event stream, newest at the bottom, filterable by any text."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.coordinate import Coordinate

from flowmonkey import Event

from ..backend import Backend
from ..format import DASH, cell, clock_time, short_id
from .columns import ID_WIDTH, Column
from .console_view import ConsoleView, RowTimes

KEEP = 1000  # events remembered for filtering
SHOW = 300  # rows in the table


class EventsView(ConsoleView):
    """Engine events as they happen; ``/`` keeps those whose text contains the filter."""

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
        self.events: deque[Event] = deque(maxlen=KEEP)
        # Bounded: while another view is shown, events pile up here until this one is.
        self._pending: deque[Event] = deque(maxlen=SHOW)
        self._serial = 0
        self._shown: dict[str, Event] = {}  # row key -> the event on that row
        self.stale = False

    def columns_changed(self) -> None:
        self.stale = True
        self.flush()

    def row_times(self) -> RowTimes | None:
        event = self._shown.get(self.current_key() or "")
        if event is None:
            return None
        return f"event {event.type.value}", [("at", event.at)]

    def note_event(self, event: Event) -> None:
        self.events.append(event)
        self._pending.append(event)

    def flush(self) -> None:
        if self.stale:
            self.stale = False
            self._pending.clear()
            self._rebuild()
        elif self._pending:
            pending = list(self._pending)
            self._pending.clear()
            self._append(pending)

    def _matches(self, event: Event) -> bool:
        needle = self.filter_text.lower()
        return not needle or needle in _haystack(event)

    def _rebuild(self) -> None:
        self.table.clear()
        self._shown = {}
        self._append(list(self.events))

    def _append(self, events: list[Event]) -> None:
        table = self.table
        follow = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        for event in events:
            if self._matches(event):
                self._serial += 1
                key = str(self._serial)
                self._shown[key] = event
                table.add_row(*map(cell, _cells(event, self.widths.get("execution", 10))), key=key)
        while table.row_count > SHOW:
            oldest = table.coordinate_to_cell_key(Coordinate(0, 0))[0]
            self._shown.pop(oldest.value or "", None)
            table.remove_row(oldest)
        if follow and table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)
        self.set_title(f"{table.row_count} shown of {len(self.events)}")


def _cells(event: Event, id_width: int) -> list[str | Text]:
    return [
        clock_time(event.at),
        event.type.value,
        event.flow_id or DASH,
        short_id(event.execution_id, id_width) if event.execution_id else DASH,
        event.step_id or DASH,
    ]


def _haystack(event: Event) -> str:
    parts = [
        event.type.value,
        event.flow_id or "",
        event.execution_id or "",
        event.step_id or "",
        str(event.data),
    ]
    return " ".join(parts).lower()
