"""The main screen: header, view bar, the five views, status counts, prompt and footer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from flowmonkey import Event, Flow

from .. import actions
from ..backend import ActionReport, Backend
from ..widgets.command_prompt import CommandPrompt
from ..widgets.console_header import ConsoleHeader
from ..widgets.console_view import ConsoleView
from ..widgets.events_view import EventsView
from ..widgets.execution_list import ExecutionListView
from ..widgets.executions_view import ExecutionsView
from ..widgets.flows_view import FlowsView
from ..widgets.key_bar import KeyBar
from ..widgets.status_counts import StatusCounts
from ..widgets.triggers_view import TriggersView
from ..widgets.view_tabs import VIEWS, ViewTabs
from ..widgets.waits_view import WaitsView
from .execution_detail import ExecutionDetailScreen
from .flow_detail import FlowDetailScreen
from .help import HelpScreen

# What ``:name`` may say for each view.
COMMAND_NAMES = {
    "flows": "flows",
    "flow": "flows",
    "exec": "executions",
    "execs": "executions",
    "executions": "executions",
    "waits": "waits",
    "wait": "waits",
    "triggers": "triggers",
    "trigger": "triggers",
    "events": "events",
    "event": "events",
}
_TICK = 0.1  # at most ten refreshes a second, however many events arrive
_COUNTS_EVERY = 1.0  # seconds between status-count refreshes caused by events
_FIRST_COUNT_AFTER = 0.2


class MainScreen(Screen[None]):
    """Owns the live event subscription and the refresh tick of the views, and runs what
    the views ask for by message (open an execution or a flow, the execution actions)."""

    BINDINGS = [
        *(
            Binding(str(number), f"show('{view_id}')", label, id=f"view.{view_id}", show=False)
            for number, (view_id, label) in enumerate(VIEWS, start=1)
        ),
        Binding("colon", "prompt(':')", "Command", id="main.command", show=False),
        Binding("slash", "prompt('/')", "Filter", id="main.filter"),
        Binding("l", "toggle_live", "Live/pause", id="main.live", show=False),
        Binding("question_mark", "help", "Help", id="main.help"),
    ]

    def __init__(
        self, backend: Backend, *, poll_interval: float | None = 2.0, live_clock: bool = True
    ) -> None:
        super().__init__()
        self.backend = backend
        self.live = True
        self._poll_interval = poll_interval
        self._live_clock = live_clock
        self._counts_stale = True
        # The first count waits a moment: the first page must not queue behind it.
        self._counts_at = time.monotonic() - _COUNTS_EVERY + _FIRST_COUNT_AFTER
        self._counts_every = _COUNTS_EVERY
        self._unsubscribe: Callable[[], None] | None = None
        # Kept at compose time: events arrive thousands of times a second under load,
        # and querying the DOM for each would cost more than the work itself.
        self.views: dict[str, ConsoleView] = {
            "flows": FlowsView(backend, id="flows"),
            "executions": ExecutionsView(backend, id="executions"),
            "waits": WaitsView(backend, id="waits"),
            "triggers": TriggersView(backend, id="triggers"),
            "events": EventsView(backend, id="events"),
        }
        self.current = "executions"
        self._header = ConsoleHeader()
        self._counts = StatusCounts()

    def compose(self) -> ComposeResult:
        header = self._header
        header.store_url = self.backend.store_url
        header.worker = self.backend.worker_label
        header.readonly = self.backend.readonly
        header.now = self.backend.now()
        yield header
        yield ViewTabs()
        with ContentSwitcher(initial=self.current):
            yield from self.views.values()
        yield self._counts
        yield CommandPrompt()
        yield KeyBar()

    def on_mount(self) -> None:
        self._unsubscribe = self.backend.subscribe(self._on_event)
        self.set_interval(_TICK, self._tick)
        if self._live_clock:
            self.set_interval(1.0, self._tick_clock)
        if self._poll_interval:
            self.set_interval(self._poll_interval, self._poll)
        self.active_view.focus_body()
        self._tick()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    @property
    def active_view(self) -> ConsoleView:
        return self.views[self.current]

    def view(self, view_id: str) -> ConsoleView:
        return self.views[view_id]

    # -- live data --------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        for view in self.views.values():
            view.note_event(event)
        if event.execution_id is not None:
            self._counts_stale = True

    def _tick(self) -> None:
        if not self.live:
            return
        self.active_view.flush()
        if self._counts_stale and time.monotonic() - self._counts_at >= self._counts_every:
            self._counts_stale = False
            self._counts_at = time.monotonic()
            self.run_worker(self._count(), exclusive=True, group="counts")

    async def _count(self) -> None:
        started = time.monotonic()
        counts = await self.backend.count()
        # Counting a big store is slow and shares the store's reader with everything
        # else: the slower it is, the less often it runs (at most 1/40 of the time).
        self._counts_every = max(_COUNTS_EVERY, 40 * (time.monotonic() - started))
        self._counts.counts = counts
        for view in self.views.values():
            if isinstance(view, ExecutionListView):
                view.use_global_counts(counts)

    def services_started(self) -> None:
        """The backend's runtime, watcher and triggers are up: show it, reload the view."""
        self._header.worker = self.backend.worker_label
        self.active_view.request_reload()

    def _tick_clock(self) -> None:
        self._header.now = self.backend.now()

    def _poll(self) -> None:
        """Catch what other processes wrote (no events reach us from them)."""
        if self.live:
            self.active_view.request_reload()
            self._counts_stale = True

    # -- actions ----------------------------------------------------------------------

    def action_show(self, view_id: str) -> None:
        self.current = view_id
        self.query_one(ContentSwitcher).current = view_id
        self.query_one(ViewTabs).active = view_id
        view = self.active_view
        view.request_reload()
        view.flush()
        view.focus_body()
        # Now, not after the next refresh as Textual would: the new view's keys are then
        # drawn in the same screen refresh as the view itself.
        self.refresh_bindings()

    def action_prompt(self, kind: str) -> None:
        text = self.active_view.filter_text if kind == "/" else ""
        self.query_one(CommandPrompt).open(kind, text)

    def on_command_prompt_entered(self, message: CommandPrompt.Entered) -> None:
        if message.kind == "/":
            error = self.active_view.apply_filter(message.text)
            if error:
                self.notify(error, title="filter", severity="error", markup=False)
        else:
            self._command(message.text.lstrip(":"))
        self.active_view.focus_body()

    def _command(self, text: str) -> None:
        name = text.strip().lower()
        if name in ("q", "quit"):
            self.app.exit()
        elif name in COMMAND_NAMES:
            self.action_show(COMMAND_NAMES[name])
        elif name:
            known = ", ".join(sorted({"flows", "exec", "waits", "triggers", "events", "quit"}))
            self.notify(f"unknown command :{name} (try {known})", severity="error", markup=False)

    def action_toggle_live(self) -> None:
        self.live = not self.live
        self._header.live = self.live
        if self.live:
            self.active_view.request_reload()

    def action_help(self) -> None:
        shared = actions.EXECUTION_BINDINGS
        sections = [
            ("Everywhere", [*self.BINDINGS, *self.app.BINDINGS]),
            ("Executions and Waits", [*shared, *ExecutionListView.BINDINGS[len(shared) :]]),
            ("Flows", FlowsView.BINDINGS),
            ("Triggers", TriggersView.BINDINGS),
        ]
        bindings = [(title, [b for b in group if isinstance(b, Binding)]) for title, group in sections]
        self.app.push_screen(HelpScreen(bindings, self.backend.features))

    # -- what the views ask for -------------------------------------------------------

    def on_execution_list_view_open_requested(self, message: ExecutionListView.OpenRequested) -> None:
        message.stop()
        self.app.push_screen(ExecutionDetailScreen(self.backend, message.execution_id))

    def on_execution_list_view_action_requested(self, message: ExecutionListView.ActionRequested) -> None:
        message.stop()
        action = actions.EXECUTION_ACTIONS[message.action]
        pending = action(self.app, self.backend, message.execution_ids)
        self.run_worker(self._report_to(message.view, pending), group="action")

    async def _report_to(self, view: ExecutionListView, pending: Awaitable[ActionReport | None]) -> None:
        view.finish_action(await pending)

    def on_execution_list_view_copy_requested(self, message: ExecutionListView.CopyRequested) -> None:
        message.stop()
        actions.copy_id(self.app, message.execution_id)

    def on_flows_view_open_requested(self, message: FlowsView.OpenRequested) -> None:
        message.stop()
        self.app.push_screen(FlowDetailScreen(message.flow))

    def on_flows_view_start_requested(self, message: FlowsView.StartRequested) -> None:
        message.stop()
        self.run_worker(self._start(message.view, message.flow), group="action")

    async def _start(self, view: FlowsView, flow: Flow) -> None:
        if await actions.start(self.app, self.backend, flow) is not None:
            view.request_reload()
