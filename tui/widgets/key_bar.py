"""The bottom line of keys: `` r Resume x Cancel / Filter ? Help q Quit      ▏^p palette``.

It lists what can be done with what is selected: an action that does not apply is left
out, and one that applies but cannot be used now (``--readonly``) is marked ``✗`` and
struck through, not only dimmed.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.actions import parse
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

from ..availability import Gated

UNUSABLE = "✗"


class KeyBar(Widget, can_focus=False):
    """The focused view's keys, drawn as one line of text and redrawn in place.

    It looks like Textual's compact ``Footer``, which recomposes one widget per key
    whenever the focused widget's bindings change: at every view switch. Mounting, styling
    and laying out those widgets took two or three more screen refreshes, the last one
    40-60 ms after the key; redrawing one line costs well under a millisecond.
    """

    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--separator"}

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyBar > .key-bar--separator {
        color: $foreground 20%;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        # (first cell, past the last cell, key, enabled) of each key drawn: what a click presses.
        self._spans: list[tuple[int, int, str, bool]] = []
        self._drawn: tuple[list[tuple[Binding, bool]], Binding | None] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        # Textual publishes this after every focus change, also when nothing shown
        # changes: a needless redraw would cost a screen refresh of its own.
        shown = self._shown()
        if shown != self._drawn:
            self._drawn = shown
            self.refresh()

    def _shown(self) -> tuple[list[tuple[Binding, bool]], Binding | None]:
        """The bindings to show (one per action) and the palette's, if it is on."""
        active = self.screen.active_bindings
        by_action: dict[str, tuple[Binding, bool]] = {}
        for node, binding, enabled, _tooltip in active.values():
            if not binding.show or binding.action in by_action:
                continue
            usable = _usable(node, binding.action)
            if usable is not None:
                by_action[binding.action] = (binding, enabled and usable)
        palette = None
        if self.app.ENABLE_COMMAND_PALETTE and self.app.COMMAND_PALETTE_BINDING in active:
            palette = active[self.app.COMMAND_PALETTE_BINDING].binding
        return list(by_action.values()), palette

    def render(self) -> Text:
        bindings, palette = self._drawn = self._shown()
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        text = Text(no_wrap=True, overflow="crop")
        self._spans = []
        for binding, enabled in bindings:
            start = text.cell_len
            item = Text.assemble(
                (self.app.get_key_display(binding), key_style),
                (f" {binding.description}", description_style),
            )
            if not enabled:
                item = Text.assemble(UNUSABLE, item)
                item.stylize("dim strike")
            text.append_text(item)
            self._spans.append((start, text.cell_len, binding.key.split(",")[0], enabled))
            text.append(" ")
        if palette is not None:
            self._append_palette(text, palette, key_style, description_style)
        return text

    def _append_palette(
        self, text: Text, palette: Binding, key_style: Style, description_style: Style
    ) -> None:
        """``▏^p palette`` at the right edge, as far right as the keys leave room for."""
        item = Text.assemble(
            ("▏", self.get_component_rich_style("key-bar--separator")),
            (self.app.get_key_display(palette), key_style),
            (f" {palette.description}", description_style),
        )
        item.append(" ")  # the Footer's margin after every key
        gap = self.content_size.width - text.cell_len - item.cell_len
        if gap < 0:
            return
        text.append(" " * gap)
        self._spans.append((text.cell_len + 1, text.cell_len + item.cell_len - 1, palette.key, True))
        text.append_text(item)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        for start, end, key, _enabled in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)  # an unusable key says why, as when it is typed
                return


def _usable(node: DOMNode, action: str) -> bool | None:
    """True (usable), False (shown, marked) or None (not shown) for ``node``'s ``action``."""
    if not isinstance(node, Gated):
        return True
    availability = node.availability(parse(action)[1])
    if not availability.shown:
        return None
    return availability.usable
