"""The main screen: header, view bar, the five views, status counts, prompt and footer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from flowmonkey import Event, EventType, ExecutionQuery, Flow, FlowMonkeyError

from .. import actions
from ..backend import Backend
from ..bulk_actions import BULK_COMMANDS, run_bulk
from ..flowfiles_state import FLOW_FILE_EVENTS
from ..outcomes import ActionReport
from ..prompt_commands import QUIT, SHOWN, resolve
from ..widgets.command_prompt import CommandPrompt
from ..widgets.console_header import ConsoleHeader
from ..widgets.console_table import ConsoleTable
from ..widgets.console_view import ConsoleView, run_latest
from ..widgets.events_view import EventsView
from ..widgets.execution_list import ExecutionListView
from ..widgets.executions_view import ExecutionsView
from ..widgets.flows_view import FlowsView
from ..widgets.key_bar import KeyBar
from ..widgets.status_counts import StatusCounts
from ..widgets.triggers_view import TriggersView
from ..widgets.view_tabs import VIEWS, ViewTabs
from ..widgets.waits_view import WaitsView
from . import help as help_text
from .execution_detail import ExecutionDetailScreen
from .flow_detail import FlowDetailScreen
from .times import TimesScreen

_TICK = 0.1  # at most ten refreshes a second, however many events arrive
_OBVIOUS = frozenset({"cursor_up", "cursor_down", "cursor_left", "cursor_right", "page_up", "page_down"})
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
        # Priority: they act the moment they arrive, so the keys typed right behind them
        # already go to the prompt (not to the table, where x would be cancel).
        Binding("colon", "prompt(':')", "Command", id="main.command", show=False, priority=True),
        Binding("slash", "prompt('/')", "Filter", id="main.filter", priority=True),
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
        self._files_stale = True
        self._filter_before = ""  # what enter falls back to when the typed filter is bad
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
        self._tabs = ViewTabs()
        self._counts = StatusCounts()
        self.prompt = CommandPrompt()

    def compose(self) -> ComposeResult:
        header = self._header
        header.store_url = self.backend.store_url
        header.worker = self.backend.worker_label
        header.readonly = self.backend.readonly
        header.now = self.backend.now()
        header.tooltip = f"retention: {self.backend.retention}"
        yield header
        yield self._tabs
        with ContentSwitcher(initial=self.current):
            yield from self.views.values()
        yield self._counts
        yield self.prompt
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
        elif event.type in FLOW_FILE_EVENTS:
            self._files_stale = True
            if event.type is EventType.FLOW_RETIRED:
                self._say_if_deleted(event)

    def _say_if_deleted(self, event: Event) -> None:
        """A retired flow whose file is gone: say so (a renamed id keeps its file)."""
        path = str(event.data.get("path", ""))
        if any(state.file == path for state in self.backend.file_states()):
            return
        self.notify(
            f"{Path(path).name} was deleted: flow {event.flow_id} is retired "
            "(executions already running keep their version)",
            severity="warning",
            markup=False,
        )

    def _tick(self) -> None:
        if self._files_stale:
            self._files_stale = False
            broken = sum(1 for state in self.backend.file_states() if not state.ok)
            self._tabs.badges = {"flows": f"✘{broken}"} if broken else {}
        if not self.live:
            return
        self.active_view.flush()
        if self._counts_stale and time.monotonic() - self._counts_at >= self._counts_every:
            self._counts_stale = False
            self._counts_at = time.monotonic()
            run_latest(self, self._count, "counts")

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
        self._files_stale = True
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
        self._tabs.active = view_id
        view = self.active_view
        view.request_reload()
        view.flush()
        self._back_to_the_view()
        # Now, not after the next refresh as Textual would: the new view's keys are then
        # drawn in the same screen refresh as the view itself.
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # ``:`` and ``/`` typed into the open prompt are text, not a new prompt.
        return not (action == "prompt" and self.prompt.is_open)

    def action_prompt(self, kind: str) -> None:
        text = self.active_view.filter_text if kind == "/" else ""
        self._filter_before = self.active_view.filter_text
        self.prompt.open(kind, text)

    def on_command_prompt_edited(self, message: CommandPrompt.Edited) -> None:
        if message.kind != "/":
            self.prompt.hint("")
            return
        problem = self.active_view.check_filter(message.text)
        self.prompt.hint(f"✘ {problem}" if problem else "", problem=bool(problem))
        if problem is None:
            self.active_view.apply_filter(message.text)
        elif problem == "":
            self.prompt.hint("…")  # a filter key being typed: nothing to apply yet

    def on_command_prompt_entered(self, message: CommandPrompt.Entered) -> None:
        if message.kind == "/":
            error = self.active_view.apply_filter(message.text)
            if error:  # back to the filter from before the prompt, not a half-typed one
                self.active_view.apply_filter(self._filter_before)
                self.notify(error, title="filter", severity="error", markup=False)
        else:
            self._command(message.text.lstrip(":"))
        self._back_to_the_view()

    def on_command_prompt_closed(self, message: CommandPrompt.Closed) -> None:
        if message.kind == "/":
            self.active_view.apply_filter("")
        self._back_to_the_view()

    def _back_to_the_view(self) -> None:
        # Unless a prompt typed ahead (``:exec⏎:wa``) is open again already: the keys
        # after the second ``:`` are that prompt's, even while the first command runs.
        if not self.prompt.is_open:
            self.active_view.focus_body()

    def _command(self, text: str) -> None:
        view = self.active_view
        if text.strip().lower() in BULK_COMMANDS and isinstance(view, ExecutionListView):
            name, query = text.strip().lower(), view.store_query(self.backend.now())
            bulk = run_bulk(self.app, self.backend, name, query, view.filter.text, self._counts)
            self.run_worker(bulk, group="action")
            return
        resolved = resolve(text)
        if resolved.target == QUIT:
            self.app.exit()
        elif resolved.target is not None:
            self.action_show(resolved.target)
        elif len(resolved.candidates) > 1:
            could = ", ".join(resolved.candidates)
            self.notify(
                f":{text} could be {could}: type more (tab completes)", severity="error", markup=False
            )
        elif text.strip():
            self.run_worker(self._find_execution(text.strip()), group="find")

    async def _find_execution(self, needle: str) -> None:
        """``:2P``: open the execution whose id contains it; several: list them."""
        page = await self.backend.executions(ExecutionQuery(id_contains=needle), limit=2)
        if not page.items:
            known = " ".join(SHOWN)
            message = f"no command or execution id :{needle} (commands: {known})"
            self.notify(message, severity="error", markup=False)
        elif len(page.items) == 1:
            self.app.push_screen(ExecutionDetailScreen(self.backend, page.items[0].id))
        else:
            self.action_show("executions")
            self.active_view.apply_filter(needle)
            self.notify(f"several execution ids contain {needle}: listed", markup=False)

    def action_toggle_live(self) -> None:
        self.live = not self.live
        self._header.live = self.live
        if self.live:
            self.active_view.request_reload()

    def action_help(self) -> None:
        view = self.active_view
        own = [b for b in [*type(view).BINDINGS, *ConsoleView.BINDINGS] if isinstance(b, Binding)]
        everywhere = [*self.BINDINGS, *ConsoleTable.BINDINGS, *self.app.BINDINGS]
        # The table's arrows need no telling (the README's key map lists their ids).
        listed = [b for b in everywhere if isinstance(b, Binding) and b.action not in _OBVIOUS]
        sections = [(view.label, own), ("Everywhere", listed)]
        is_list = isinstance(view, ExecutionListView)
        notes = [
            ("Filter /", help_text.EXECUTION_FILTER if is_list else help_text.TEXT_FILTER),
            ("Commands :", help_text.COMMANDS),
            ("Symbols", help_text.symbols()),
            ("Dialogs", help_text.DIALOGS),
        ]
        self.app.push_screen(help_text.HelpScreen(view.label, sections, notes, self.backend.features))

    # -- what the views ask for -------------------------------------------------------

    def on_execution_list_view_open_requested(self, message: ExecutionListView.OpenRequested) -> None:
        message.stop()
        self.app.push_screen(ExecutionDetailScreen(self.backend, message.execution_id))

    def on_events_view_open_requested(self, message: EventsView.OpenRequested) -> None:
        message.stop()
        self.app.push_screen(ExecutionDetailScreen(self.backend, message.execution_id))

    def on_execution_list_view_action_requested(self, message: ExecutionListView.ActionRequested) -> None:
        message.stop()
        action = actions.EXECUTION_ACTIONS[message.action]
        pending = action(self.app, self.backend, message.execution_ids)
        self.run_worker(self._report_to(message.view, pending), group="action")

    async def _report_to(self, view: ExecutionListView, pending: Awaitable[ActionReport | None]) -> None:
        try:
            view.finish_action(await pending)
        except FlowMonkeyError as exc:  # the store refused (read-only, unreachable)
            self.notify(str(exc), severity="error", markup=False)

    def on_execution_list_view_copy_requested(self, message: ExecutionListView.CopyRequested) -> None:
        message.stop()
        actions.copy_id(self.app, message.execution_id)

    def on_console_view_times_requested(self, message: ConsoleView.TimesRequested) -> None:
        message.stop()
        self.app.push_screen(TimesScreen(message.title, message.times, self.backend.now()))

    def on_flows_view_open_requested(self, message: FlowsView.OpenRequested) -> None:
        message.stop()
        self.app.push_screen(flow_detail(self.backend, message.flow))

    def on_flows_view_migrate_requested(self, message: FlowsView.MigrateRequested) -> None:
        message.stop()
        query = ExecutionQuery(flow_id=message.flow.id)
        bulk = run_bulk(self.app, self.backend, "migrate", query, f"flow:{message.flow.id}", self._counts)
        self.run_worker(bulk, group="action")

    def on_flows_view_start_requested(self, message: FlowsView.StartRequested) -> None:
        message.stop()
        self.run_worker(self._start(message.view, message.flow), group="action")

    async def _start(self, view: FlowsView, flow: Flow) -> None:
        try:
            started = await actions.start(self.app, self.backend, flow)
        except FlowMonkeyError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if started is not None:
            view.request_reload()


def flow_detail(backend: Backend, flow: Flow) -> FlowDetailScreen:
    """The flow's tree, with the targets its routing steps name."""
    routes = {step.id: backend.step_routes(step) for step in flow.steps.values()}
    found = {step_id: targets for step_id, targets in routes.items() if targets}
    return FlowDetailScreen(flow, found, health=lambda: backend.step_health(flow.id))
