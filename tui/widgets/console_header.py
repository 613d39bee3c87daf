"""The top line: store, worker, live or paused, and the time."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ..format import clock_time


class ConsoleHeader(Widget):
    """`` FlowMonkey  sqlite:///… worker: on  LIVE  12:04:31`` (the password is masked)."""

    DEFAULT_CSS = """
    ConsoleHeader { height: 1; background: $primary-background; }
    """

    store_url: reactive[str] = reactive("")
    worker: reactive[str] = reactive("off")
    live: reactive[bool] = reactive(True)
    readonly: reactive[bool] = reactive(False)
    now: reactive[datetime | None] = reactive(None)

    def render(self) -> Text:
        status = Text(f"   worker: {self.worker}   ")
        status.append("LIVE" if self.live else "‖ PAUSED", style="bold" if self.live else "bold reverse")
        if self.readonly:
            status.append("   ")
            status.append("READONLY", style="bold reverse")
        stamp = f"  {clock_time(self.now)} " if self.now is not None else " "
        text = Text(" FlowMonkey  ", style="bold")
        room = self.size.width - text.cell_len - status.cell_len - len(stamp)
        text.append(elide(self.store_url, max(room, 8)))
        text.append_text(status)
        gap = max(0, self.size.width - text.cell_len - len(stamp))
        text.append(" " * gap + stamp)
        text.truncate(max(self.size.width, 1))
        return text


def elide(text: str, width: int) -> str:
    """Shorten in the middle (``sqlite:////tmp/…/console.db``): both ends say the most."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]
