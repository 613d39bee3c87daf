"""A yes/no confirmation that defaults to No, optionally asking for a reason or the count."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class Choice(Button):
    """A dialog button that says it has the focus by more than colour: ``▸ No ◂``."""

    def __init__(self, label: str, *, id: str, variant: str = "default") -> None:
        super().__init__(f"  {label}  ", id=id, variant=variant, compact=True)  # type: ignore[arg-type]
        self._text = label

    def on_focus(self) -> None:
        self.label = f"▸ {self._text} ◂"

    def on_blur(self) -> None:
        self.label = f"  {self._text}  "


class ConfirmScreen(ModalScreen[str | None]):
    """Returns the reason (``""`` when none was asked or typed) on yes, None on no.

    ``y`` says yes, ``n`` or ``escape`` no; ``enter`` presses the focused button, and the
    focus starts on No, so an ``enter`` typed ahead changes nothing. With ``type_count``
    (a bulk action on many executions) yes needs that number typed first.
    """

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 90%; max-width: 90; height: auto; border: round $warning; padding: 0 1; background: $surface;
    }
    ConfirmScreen #confirm-question { width: 100%; text-style: bold; }
    ConfirmScreen Input { margin-top: 1; }
    ConfirmScreen #confirm-problem { color: $error; height: auto; display: none; }
    ConfirmScreen #confirm-problem.-shown { display: block; }
    ConfirmScreen Horizontal { height: 1; margin-top: 1; }
    ConfirmScreen Button { min-width: 10; height: 1; border: none; margin-right: 2; }
    """

    BINDINGS = [
        Binding("escape,n", "cancel", "No", id="confirm.no"),
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("left,right", "switch_button", "Other button", id="confirm.switch", show=False),
    ]

    def __init__(
        self, question: str, *, details: str = "", ask_reason: bool = False, type_count: int | None = None
    ) -> None:
        super().__init__()
        self._question = question
        self._details = details
        self._ask_reason = ask_reason
        self._type_count = type_count

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._question), id="confirm-question")
            if self._details:
                yield Static(Text(self._details), id="confirm-details")
            if self._type_count is not None:
                count = f"type {self._type_count} to confirm"
                yield Input(placeholder=count, id="confirm-count", compact=True)
            if self._ask_reason:
                reason = "reason (optional; enter: to the buttons)"
                yield Input(placeholder=reason, id="confirm-reason", compact=True)
            yield Static("", id="confirm-problem")
            with Horizontal():
                yield Choice("No", id="confirm-no")
                yield Choice("Yes", id="confirm-yes", variant="warning")
            yield Static(self._hint(), classes="hint")

    def _hint(self) -> str:
        if self._type_count is not None:
            return f"type {self._type_count} and enter: yes   escape: no   tab: next"
        return "y: yes   n/escape: no   enter: the focused button   tab: next"

    def on_mount(self) -> None:
        start = "#confirm-count" if self._type_count is not None else "#confirm-no"
        self.query_one(start).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "confirm-count":
            self.action_confirm()
        else:  # the reason is typed; yes is one more deliberate key away
            self.query_one("#confirm-yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm-yes":
            self.action_confirm()
        else:
            self.action_cancel()

    def action_switch_button(self) -> None:
        other = "#confirm-yes" if self.focused is self.query_one("#confirm-no") else "#confirm-no"
        self.query_one(other, Button).focus()

    def action_confirm(self) -> None:
        if self._type_count is not None:
            typed = self.query_one("#confirm-count", Input).value.strip()
            if typed != str(self._type_count):
                problem = f"✘ type {self._type_count}, the number of executions, to confirm"
                shown = self.query_one("#confirm-problem", Static)
                shown.update(Text(problem))
                shown.add_class("-shown")
                self.query_one("#confirm-count", Input).focus()
                return
        reason = self.query_one("#confirm-reason", Input).value.strip() if self._ask_reason else ""
        self.dismiss(reason)

    def action_cancel(self) -> None:
        self.dismiss(None)
