"""The top line: store, worker, live or paused, and the time."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.format import clock_time


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
        text = Text(" FlowMonkey", style="bold")
        text.append(f"  {self.store_url}")
        text.append(f"   worker: {self.worker}")
        text.append("   LIVE" if self.live else "   ‖ PAUSED", style="bold" if self.live else "bold reverse")
        if self.readonly:
            text.append("   READONLY", style="bold reverse")
        if self.now is not None:
            stamp = clock_time(self.now)
            gap = max(2, self.size.width - text.cell_len - len(stamp) - 1)
            text.append(" " * gap + stamp)
        text.truncate(max(self.size.width, 1))
        return text
