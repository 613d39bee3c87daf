"""A modal JSON editor: nothing is returned until the text parses (errors inline, line:col)
and, when it is given a ``send``, until that accepts the value (its refusals inline too)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static, TextArea

from ..jsoninput import JsonInputError, parse_json


@dataclass(frozen=True, slots=True)
class JsonValue:
    """The accepted value (wrapped, because ``null`` is a valid answer)."""

    value: Any


class JsonEditorScreen(ModalScreen[JsonValue | None]):
    """Edit JSON; ``tab`` to the OK button and ``enter`` sends, ``escape`` cancels."""

    DEFAULT_CSS = """
    JsonEditorScreen { align: center middle; }
    JsonEditorScreen > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    JsonEditorScreen TextArea { height: 10; }
    JsonEditorScreen.refused TextArea { height: 6; }  /* room for the reasons and the buttons */
    JsonEditorScreen #json-error { color: $error; height: auto; max-height: 8; }
    JsonEditorScreen #json-expects { height: auto; max-height: 3; }
    JsonEditorScreen Horizontal { height: 1; margin-top: 1; }
    JsonEditorScreen Button { min-width: 12; height: 1; border: none; margin-right: 2; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="editor.cancel"),
        Binding("f2", "submit", "Send", id="editor.submit"),
    ]

    def __init__(
        self,
        title: str,
        *,
        initial: str = "{}",
        require_object: bool = False,
        ok_label: str = "OK",
        expects: str = "",
        send: Callable[[Any], Awaitable[list[str]]] | None = None,
        schema: Any = None,
    ) -> None:
        """``expects``: what the value must be, shown above the text; ``send``: called with
        the parsed value, returns why it was refused (every reason a line), [] if taken."""
        super().__init__()
        self._schema = schema
        self._title = title
        self._initial = initial
        self._require_object = require_object
        self._ok_label = ok_label
        self._expects = expects
        self._send = send
        self._sending = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self._title), id="json-title")
            if self._expects:
                yield Static(
                    Text(f"expects {self._expects}  (* required)"), id="json-expects", classes="hint"
                )
            yield TextArea(self._initial, id="json-text", tab_behavior="focus", show_line_numbers=True)
            yield Static("", id="json-error")
            yield Static("", id="json-where", classes="hint")
            yield Static(
                "typing replaces the selection  tab: to the buttons  f2: send  escape: cancel", classes="hint"
            )
            with Horizontal():
                yield Button(self._ok_label, id="json-ok", variant="primary", compact=True)
                yield Button("Cancel", id="json-cancel", compact=True)

    def on_mount(self) -> None:
        editor = self.query_one(TextArea)
        editor.focus()
        editor.select_all()  # typing replaces the prefilled value

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        row, column = event.selection.end
        self.query_one("#json-where", Static).update(f"line {row + 1}, column {column + 1}")

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "json-ok":
            await self.action_submit()
        else:
            self.action_cancel()

    async def action_submit(self) -> None:
        if self._sending:  # f2 again while the first is on its way
            return
        editor = self.query_one(TextArea)
        try:
            value = parse_json(editor.text, require_object=self._require_object)
        except JsonInputError as exc:
            self._say([f"✘ {exc.problem}"])
            editor.move_cursor((exc.problem.line - 1, max(exc.problem.column - 1, 0)))
            editor.focus()
            return
        if problems := schema_problems(self._schema, value):
            self._say([f"✘ {problem}" for problem in problems])
            editor.focus()
            return
        if self._send is not None:
            self._sending = True
            try:
                refused = await self._send(value)
            finally:
                self._sending = False
            if refused:  # the first line says what, the others (indented) each reason
                self._say([f"✘ {refused[0]}", *(f"  {line}" for line in refused[1:])])
                self.add_class("refused")
                editor.focus()
                return
        self.dismiss(JsonValue(value))

    def _say(self, lines: list[str]) -> None:
        self.query_one("#json-error", Static).update(Text("\n".join(lines)))

    def action_cancel(self) -> None:
        self.dismiss(None)


def schema_problems(schema: Any, value: Any) -> list[str]:
    """Where ``value`` breaks ``schema`` (a step's ``outputSchema``), each with its path."""
    if schema is None:
        return []
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{_path(e.absolute_path)}: {e.message}" for e in errors]


def _path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
