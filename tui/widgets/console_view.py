"""The base of the five views: a title line over a table, reloaded on request, coalesced."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.message import Message
from textual.widgets.data_table import CellDoesNotExist

from flowmonkey import Event

from ..availability import USABLE, Availability, hidden, readonly_gate
from ..backend import Backend
from .columns import Column, column_widths
from .console_table import ConsoleTable
from .view_title import ViewTitle

RowTimes = tuple[str, list[tuple[str, datetime | None]]]
"""What a row is and its moments: ``("execution 01KC…", [("created", …), …])``."""


def run_latest(node: DOMNode, work: Callable[[], Awaitable[None]], group: str) -> None:
    """Run ``work`` in a worker that replaces the group's previous one, queued or running.

    The method, not a coroutine: a replaced worker may be cancelled before it starts, and a
    coroutine made for it would then never be awaited.
    """
    node.run_worker(work, exclusive=True, group=group)


class ConsoleView(Vertical):
    """One view. Subclasses name their ``COLUMNS`` and implement :meth:`reload`.

    Requests to reload only mark the view stale; the screen's refresh tick (at most ten
    times a second) calls :meth:`flush`, so a burst of events costs one reload. A wider
    terminal gives its room to the columns that can use it (see :class:`Column`).
    """

    class TimesRequested(Message):
        """The operator asked to see the selected row's moments in full (``T``)."""

        def __init__(self, view: ConsoleView, title: str, times: list[tuple[str, datetime | None]]) -> None:
            super().__init__()
            self.view = view
            self.title = title
            self.times = times

        @property
        def control(self) -> ConsoleView:
            return self.view

    DEFAULT_CSS = """
    ConsoleView { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear filter", id="view.clear_filter"),
        Binding("T", "times", "Times", id="view.times", show=False),
    ]

    COLUMNS: ClassVar[Sequence[Column]] = ()
    label = "View"
    table: ConsoleTable[str | Text]
    """The view's table, kept at compose time: hot paths must not query the DOM."""

    def __init__(self, backend: Backend, *, id: str) -> None:
        super().__init__(id=id)
        self.backend = backend
        self.stale = True
        self.filter_text = ""
        self.widths: dict[str, int] = {}
        self._columns_for = 0

    def compose(self) -> ComposeResult:
        self._title = ViewTitle()
        yield self._title
        yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        self.table = ConsoleTable(cursor_type="row", id=f"{self.id}-table")
        self._add_columns(self.app.size.width)
        yield self.table

    def _add_columns(self, room: int) -> None:
        self._columns_for = room
        widths = column_widths(self.COLUMNS, room)
        self.widths = {column.key: width for column, width in zip(self.COLUMNS, widths, strict=True)}
        for column, width in zip(self.COLUMNS, widths, strict=True):
            self.table.add_column(column.label, key=column.key, width=width)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width and event.size.width != self._columns_for:
            self.table.clear(columns=True)
            self._add_columns(event.size.width)
            self.columns_changed()

    def columns_changed(self) -> None:
        """The columns were made anew at other widths: draw the rows again (override)."""
        self.request_reload()
        self.flush()

    def set_title(self, right: str = "", extra: str = "") -> None:
        """``Executions  status:waiting ...      1-18 of 1,284`` on the title line."""
        left = Text(self.label, style="bold")
        if self.filter_text:
            left.append(f"  /{self.filter_text}")
        if extra:
            left.append(f"  {extra}")
        title = self._title
        title.left = left
        title.right = right

    def request_reload(self) -> None:
        self.stale = True

    def flush(self) -> None:
        """Reload if stale; a newer reload replaces one still running."""
        if self.stale:
            self.stale = False
            run_latest(self, self.reload, "reload")

    async def reload(self) -> None:
        """Fetch and show fresh data (override)."""

    def note_event(self, event: Event) -> None:
        """Remember what an engine event makes stale (cheap; the work happens in flush)."""

    def check_filter(self, text: str) -> str | None:
        """What is wrong with the filter ``text`` (``""``: not yet complete), or None when
        it can be applied."""
        return None

    def apply_filter(self, text: str) -> str | None:
        """Use the ``/`` filter ``text``; returns an error message instead when it is bad."""
        self.filter_text = text.strip()
        self.request_reload()
        self.flush()
        return None

    def focus_body(self) -> None:
        """Give the keyboard to the view's table, now: keys already queued must go to it."""
        self.screen.set_focus(self.table, scroll_visible=False)

    def current_key(self) -> str | None:
        """The row key under the cursor (None in an empty table, or one being redrawn)."""
        table = self.table
        if table.row_count == 0 or not table.is_valid_row_index(table.cursor_row):
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate)[0].value
        except CellDoesNotExist:
            return None

    def availability(self, action: str) -> Availability:
        """Whether ``action`` can be used now (see :mod:`..availability`)."""
        if action == "clear_filter" and not self.filter_text:
            return hidden("")  # escape with nothing to clear: silence, not a message
        return readonly_gate(self.backend.readonly, action) or USABLE

    def action_clear_filter(self) -> None:
        self.apply_filter("")

    def row_times(self) -> RowTimes | None:
        """The selected row's moments (override); None when there is no row."""
        return None

    def action_times(self) -> None:
        times = self.row_times()
        if times is None:
            self.app.bell()
            return
        self.post_message(self.TimesRequested(self, *times))
