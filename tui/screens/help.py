"""``?``: the keys of the view at hand, generated from the bindings themselves (one place
for each fact), then how to filter, what the symbols mean and how dialogs answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..format import STATUS_SYMBOLS

EXECUTION_FILTER = (
    "applies as you type; enter keeps it, escape clears it. Every word must match:\n"
    "  status:failed,waiting   only these statuses\n"
    "  flow:expense            the flow whose id starts so (expense-approval)\n"
    "  since:30m               created in the last 30m (s, m, h, d, w)\n"
    "  01KC…  any other word   part of the execution id"
)
TEXT_FILTER = "keeps the rows that contain the text, as you type; escape clears it."
COMMANDS = (
    ":flows :exec :waits :triggers :events :quit, or a prefix that names one (:wa); tab "
    "completes. Other text opens the execution whose id contains it (:2P). :cancel :retry "
    ":resume :migrate act on everything the filter matches, all pages, after a preview."
)
DIALOGS = (
    "y yes, n or escape no, enter the focused button (No at first), tab the next field. "
    "Over 10 executions: type their number. JSON editor: f2 sends, escape cancels."
)


def symbols() -> str:
    """``✔ completed  ◷ waiting ...`` and the marks of the lists and the key bar."""
    statuses = "  ".join(f"{symbol} {name}" for name, symbol in STATUS_SYMBOLS.items())
    return f"{statuses}\n● marked   ✗ a key that cannot be used here (pressing it says why)"


class HelpScreen(ModalScreen[None]):
    """Key map by section (binding ids in the last column are what a keymap remaps), then
    notes: ``(title, text)`` pairs."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100%; max-width: 100; height: 100%; max-height: 48;
        border: round $accent; background: $surface; overflow-x: hidden; scrollbar-size-vertical: 1;
    }
    HelpScreen .note { margin-top: 1; padding: 0 1; }
    """

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(
        self,
        title: str,
        sections: Iterable[tuple[str, Iterable[Binding]]],
        notes: Sequence[tuple[str, str]] = (),
        services: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._title = title
        self._sections = list(sections)
        self._notes = list(notes)
        self._services = dict(services or {})

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = f"{self._title}: keys (escape closes)"
            yield Static(key_table(self._sections))
            for title, body in self._notes:
                yield Static(_note(title, body), classes="note")
            if self._services:
                running = "  ".join(f"{name}: {state}" for name, state in sorted(self._services.items()))
                yield Static(_note("Services", running), classes="note", id="help-services")

    def action_close(self) -> None:
        self.dismiss(None)


def _note(title: str, body: str) -> Text:
    return Text.assemble((title, "bold"), "  ", body)


def key_table(sections: Iterable[tuple[str, Iterable[Binding]]]) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", expand=True, padding=(0, 1))
    table.add_column("key", no_wrap=True)
    table.add_column("does", ratio=1)
    table.add_column("id (remap)", style="dim", no_wrap=True)
    for title, bindings in sections:
        table.add_row(Text(title, style="bold"), "", "")
        for binding in bindings:
            table.add_row(display_key(binding.key), binding.description or binding.action, binding.id or "")
    return table


_NAMES = {
    "question_mark": "?",
    "colon": ":",
    "slash": "/",
    "space": "space",
    "right_square_bracket": "]",
    "left_square_bracket": "[",
}


def display_key(key: str) -> str:
    return ",".join(_NAMES.get(k, k) for k in key.split(","))
