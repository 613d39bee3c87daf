"""Any value as highlighted, scrollable JSON (``y`` on an execution)."""

from __future__ import annotations

from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..format import to_json


class RawJsonScreen(ModalScreen[None]):
    """Shows ``value`` as JSON; escape or q closes."""

    DEFAULT_CSS = """
    RawJsonScreen { align: center middle; }
    RawJsonScreen > VerticalScroll {
        width: 95%; height: 90%; border: round $accent; background: $surface;
    }
    """

    BINDINGS = [
        Binding("escape,q,y", "close", "Close", id="raw.close"),
    ]

    def __init__(self, title: str, value: Any) -> None:
        super().__init__()
        self._title = title
        self._value = value

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = self._title
            yield Label(Text(self._title))
            yield Static(json_syntax(self._value), id="raw-json")

    def action_close(self) -> None:
        self.dismiss(None)


def json_syntax(value: Any) -> Syntax:
    """Highlighted JSON that wraps at the widget's width."""
    return Syntax(to_json(value), "json", theme="ansi_dark", word_wrap=True, background_color="default")
