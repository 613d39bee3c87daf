"""A yes/no confirmation, optionally asking for a reason."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class ConfirmScreen(ModalScreen[str | None]):
    """Returns the reason (``""`` when none was asked or typed) on enter, None on escape."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 90%; max-width: 90; height: auto; border: round $warning; padding: 0 1; background: $surface;
    }
    ConfirmScreen Input { margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "No", id="confirm.no"),
        Binding("enter", "confirm", "Yes", id="confirm.yes"),
    ]

    def __init__(self, question: str, *, details: str = "", ask_reason: bool = False) -> None:
        super().__init__()
        self._question = question
        self._details = details
        self._ask_reason = ask_reason

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self._question), id="confirm-question")
            if self._details:
                yield Static(Text(self._details), id="confirm-details")
            if self._ask_reason:
                yield Input(placeholder="reason (optional)", id="confirm-reason")
            yield Static("enter: yes   escape: no", classes="hint")

    def on_mount(self) -> None:
        if self._ask_reason:
            self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def action_confirm(self) -> None:
        reason = self.query_one(Input).value.strip() if self._ask_reason else ""
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)
