"""``T``: the moments of the selected row in full, with the date and the zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ..format import DASH, ago


class TimesScreen(ModalScreen[None]):
    """Each moment in UTC, in the machine's zone when that differs, and relative to now."""

    DEFAULT_CSS = """
    TimesScreen { align: center middle; }
    TimesScreen > Vertical {
        width: 90%; max-width: 90; height: auto; border: round $accent; padding: 0 1; background: $surface;
    }
    """

    BINDINGS = [Binding("escape,q,T", "close", "Close", id="times.close")]

    def __init__(self, title: str, times: Sequence[tuple[str, datetime | None]], now: datetime) -> None:
        super().__init__()
        self._title = title
        self._times = list(times)
        self._now = now

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Times (escape closes)"
            yield Static(Text(self._title, style="bold"))
            yield Static(times_table(self._times, self._now), id="times")

    def action_close(self) -> None:
        self.dismiss(None)


def times_table(times: Sequence[tuple[str, datetime | None]], now: datetime) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1))
    for label, moment in times:
        if moment is None:
            table.add_row(label, DASH, "", "")
            continue
        table.add_row(label, full_time(moment), local_time(moment), ago(moment, now))
    return table


def full_time(moment: datetime) -> str:
    """``2026-01-02 12:00:00 UTC``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_time(moment: datetime) -> str:
    """The same moment in the machine's zone (``13:00:00 CET``), or nothing when that is UTC."""
    local = moment.astimezone()
    if local.utcoffset() == moment.astimezone(UTC).utcoffset():
        return ""
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")
