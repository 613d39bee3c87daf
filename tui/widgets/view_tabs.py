"""The view bar: `` 1 Flows  2 Executions  3 Waits  4 Triggers  5 Events``."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

VIEWS: tuple[tuple[str, str], ...] = (
    ("flows", "Flows"),
    ("executions", "Executions"),
    ("waits", "Waits"),
    ("triggers", "Triggers"),
    ("events", "Events"),
)


class ViewTabs(Widget):
    """Which view is shown (bracketed, not only highlighted), and a badge on a view that
    needs a look from wherever the operator is (``✘1`` on Flows: a file failed to load)."""

    DEFAULT_CSS = """
    ViewTabs { height: 1; }
    """

    active: reactive[str] = reactive("executions")
    badges: reactive[dict[str, str]] = reactive(dict, always_update=True)

    def render(self) -> Text:
        text = Text()
        for number, (view_id, label) in enumerate(VIEWS, start=1):
            if view_id == self.active:
                text.append(f"[{number} {label}]", style="bold reverse")
            else:
                text.append(f" {number} {label} ", style="dim")
            badge = self.badges.get(view_id)
            if badge:
                text.append(badge, style="bold red reverse")
            text.append(" ")
        return text
