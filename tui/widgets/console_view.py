"""The base of the five views: a title line over a body, reloaded on request, coalesced."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from flowmonkey import Event

from ..actions import MUTATING_ACTIONS
from ..backend import Backend
from .console_table import ConsoleTable
from .view_title import ViewTitle


class ConsoleView(Vertical):
    """One view. Subclasses compose a body and implement :meth:`reload`.

    Requests to reload only mark the view stale; the screen's refresh tick (at most ten
    times a second) calls :meth:`flush`, so a burst of events costs one reload.
    """

    DEFAULT_CSS = """
    ConsoleView { height: 1fr; }
    """

    label = "View"
    table: ConsoleTable[str | Text]
    """The view's table, kept at compose time: hot paths must not query the DOM."""

    def __init__(self, backend: Backend, *, id: str) -> None:
        super().__init__(id=id)
        self.backend = backend
        self.stale = True
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        self._title = ViewTitle()
        yield self._title
        yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def set_title(self, right: str = "", extra: str = "") -> None:
        """``Executions  status:waiting ...      1-18 of 1,284`` on the title line."""
        left = Text(self.label, style="bold")
        if self.filter_text:
            left.append(f"  /{self.filter_text}")
        if extra:
            left.append(f"  {extra}")
        title = self._title
        title.left = left
        title.right = right

    def request_reload(self) -> None:
        self.stale = True

    def flush(self) -> None:
        """Reload if stale; a newer reload replaces one still running."""
        if self.stale:
            self.stale = False
            self.run_worker(self.reload(), exclusive=True, group="reload")

    async def reload(self) -> None:
        """Fetch and show fresh data (override)."""

    def note_event(self, event: Event) -> None:
        """Remember what an engine event makes stale (cheap; the work happens in flush)."""

    def apply_filter(self, text: str) -> str | None:
        """Use the ``/`` filter ``text``; returns an error message instead when it is bad."""
        self.filter_text = text
        self.request_reload()
        return None

    def focus_body(self) -> None:
        """Give the keyboard to the view's table, now: keys already queued must go to it."""
        self.screen.set_focus(self.table, scroll_visible=False)

    def check_action(self, action: str, parameters: tuple[Any, ...]) -> bool | None:
        # None, not False: the footer shows the key dimmed, so readonly is visible.
        if self.backend.readonly and action in MUTATING_ACTIONS:
            return None
        return True
