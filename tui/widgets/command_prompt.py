"""The one-line prompt for ``:`` commands and ``/`` filters.

While it is open it has every key: ``tab`` completes (it never moves the focus to what is
behind), and should the focus leave it anyway (a click), it closes, so what it shows is
always what the keys go to. Its input takes ``tab``, ``enter`` and ``escape`` in the order
they were typed with the characters around them (not as bindings, which are looked up
later), so a burst like ``:e<tab>xec<enter>`` means what it says.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from ..availability import USABLE, Availability, hidden
from ..prompt_commands import SHOWN, complete

_PLACEHOLDERS = {
    ":": " ".join(SHOWN) + "  or part of an execution id",
    "/": "status:failed flow:ID since:1h TEXT",
}


class PromptInput(Input):
    """The prompt's text; its control keys act in their place among the characters."""

    def __init__(self, prompt: CommandPrompt) -> None:
        super().__init__(id="prompt-input", compact=True)
        self._prompt = prompt

    async def _on_key(self, event: events.Key) -> None:
        prompt = self._prompt
        action = _IN_ORDER.get(event.key) if prompt.is_open else None
        if prompt.is_open and action is None:
            await super()._on_key(event)
            return
        event.stop()
        event.prevent_default()
        if action is not None:
            action(prompt)
        elif event.key in ("colon", "slash"):  # typed ahead past enter: the next prompt
            prompt.open(event.character or ":")
        # Anything else typed ahead past enter is dropped: it must not reach the table.


class CommandPrompt(Horizontal):
    """Hidden until ``:`` or ``/``; enter submits, escape closes (and clears a filter)."""

    DEFAULT_CSS = """
    CommandPrompt { height: 1; display: none; }
    CommandPrompt.-open { display: block; }
    CommandPrompt Input { width: 1fr; height: 1; border: none; padding: 0 1; }
    CommandPrompt #prompt-hint { width: auto; max-width: 50%; height: 1; padding: 0 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "close", "Close", id="prompt.close"),
        Binding("tab,shift+tab", "complete", "Complete", id="prompt.complete"),
    ]

    class Entered(Message):
        """The user entered ``text`` at a prompt of ``kind`` (``:`` or ``/``)."""

        def __init__(self, kind: str, text: str) -> None:
            super().__init__()
            self.kind = kind
            self.text = text

    class Edited(Message):
        """The text at the ``/`` prompt is now ``text`` (a filter applies as it is typed)."""

        def __init__(self, kind: str, text: str) -> None:
            super().__init__()
            self.kind = kind
            self.text = text

    class Closed(Message):
        """The user closed the prompt of ``kind`` with escape."""

        def __init__(self, kind: str) -> None:
            super().__init__()
            self.kind = kind

    def __init__(self) -> None:
        super().__init__(id="prompt")
        self.kind = ":"
        self.input = PromptInput(self)
        self._hint = Static("", id="prompt-hint")

    def compose(self) -> ComposeResult:
        yield self.input
        yield self._hint

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, kind: str, text: str = "") -> None:
        """Show the prompt for ``kind`` with ``text`` prefilled, and focus it."""
        self.kind = kind
        self.input.placeholder = _PLACEHOLDERS[kind]
        with self.input.prevent(Input.Changed):
            self.input.value = text
        self.input.cursor_position = len(text)
        self.hint("")
        self.add_class("-open")
        self.screen.add_class("-prompting")  # toasts move up a line: the prompt takes one
        self.screen.set_focus(self.input)  # now, not later: keys typed ahead belong to the prompt

    def hint(self, text: str, *, problem: bool = False) -> None:
        """Say something right of the text: a filter's problem, or the names to complete."""
        self._hint.update(Text(text, style="bold red" if problem else ""))

    def _hide(self) -> None:
        self.remove_class("-open")
        self.screen.remove_class("-prompting")

    def _close(self) -> None:
        self._hide()
        # Keys that arrive before the screen puts the focus back go to the screen alone,
        # never to the input of a closed prompt.
        self.screen.set_focus(None)

    def action_close(self) -> None:
        self._close()
        self.post_message(self.Closed(self.kind))

    def availability(self, action: str) -> Availability:
        # tab completes commands; in a filter it does nothing (it never leaves the prompt).
        return hidden("") if action == "complete" and self.kind != ":" else USABLE

    def action_complete(self) -> None:
        text, candidates = complete(self.input.value)
        if text != self.input.value:
            self.input.value = text
            self.input.cursor_position = len(text)
        self.hint("  ".join(candidates))
        if candidates or not text:
            self.app.bell()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.is_open:
            self.post_message(self.Edited(self.kind, event.value))

    def action_submit(self) -> None:
        self._close()
        self.post_message(self.Entered(self.kind, self.input.value.strip()))

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        # The keys go elsewhere now (a click): a prompt left open would only mislead.
        if self.is_open:
            self._hide()


_IN_ORDER = {
    "tab": CommandPrompt.action_complete,
    "shift+tab": CommandPrompt.action_complete,
    "enter": CommandPrompt.action_submit,
    "escape": CommandPrompt.action_close,
}
