"""``?``: every key, generated from the bindings themselves (one place for each fact)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """Key map by section; binding ids in the last column are what a keymap remaps."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 95%; max-width: 100; height: 90%; border: round $accent; background: $surface; }
    """

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(
        self, sections: Iterable[tuple[str, Iterable[Binding]]], services: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self._sections = list(sections)
        self._services = dict(services or {})

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys (escape closes)"
            if self._services:
                running = "  ".join(f"{name}: {state}" for name, state in sorted(self._services.items()))
                yield Static(Text(f"Services  {running}"), id="help-services")
            yield Static(key_table(self._sections))

    def action_close(self) -> None:
        self.dismiss(None)


def key_table(sections: Iterable[tuple[str, Iterable[Binding]]]) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", expand=True, padding=(0, 1))
    table.add_column("key", no_wrap=True)
    table.add_column("does")
    table.add_column("id", style="dim", no_wrap=True)
    for title, bindings in sections:
        table.add_row(f"[b]{title}[/b]", "", "")
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
