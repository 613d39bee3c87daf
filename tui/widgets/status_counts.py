"""The bottom status line: executions by status (symbols and words, never colour alone)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from flowmonkey import ExecutionStatus

from ..format import count_text


class StatusCounts(Widget):
    """`` ✔ 1,102 completed  ◷ 87 waiting  ▶ 3 running ...``."""

    DEFAULT_CSS = """
    StatusCounts { height: 1; padding: 0 1; background: $boost; }
    """

    counts: reactive[dict[ExecutionStatus, int] | None] = reactive(None, always_update=True)
    progress: reactive[str] = reactive("")
    """A bulk action's progress line (``retry: 2,400 of 100,000``), shown while it runs."""

    def render(self) -> Text:
        if self.progress:
            return Text(self.progress, style="bold")
        if self.counts is None:
            return Text("counting…", style="dim")
        return count_text(self.counts)
