"""The one-line prompt for ``:`` commands and ``/`` filters."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class CommandPrompt(Input):
    """Hidden until ``:`` or ``/``; enter submits, escape closes without change."""

    DEFAULT_CSS = """
    CommandPrompt { height: 1; border: none; padding: 0 1; display: none; }
    CommandPrompt.-open { display: block; }
    """

    BINDINGS = [Binding("escape", "close", "Close", show=False, id="prompt.close")]

    class Entered(Message):
        """The user entered ``text`` at a prompt of ``kind`` (``:`` or ``/``)."""

        def __init__(self, kind: str, text: str) -> None:
            super().__init__()
            self.kind = kind
            self.text = text

    def __init__(self) -> None:
        super().__init__(id="prompt", compact=True)
        self.kind = ":"

    def open(self, kind: str, text: str = "") -> None:
        """Show the prompt for ``kind`` with ``text`` prefilled, and focus it."""
        self.kind = kind
        self.placeholder = (
            "flows exec waits triggers events quit" if kind == ":" else "status:failed flow:ID since:1h TEXT"
        )
        self.value = text
        self.cursor_position = len(text)
        self.add_class("-open")
        self.screen.set_focus(self)  # now, not later: keys typed ahead belong to the prompt

    def action_close(self) -> None:
        self.remove_class("-open")
        self.screen.focus_next()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.remove_class("-open")
        self.post_message(self.Entered(self.kind, event.value.strip()))
