"""The views ask their screen for what needs the app (dialogs, other screens), by message.

Each view runs alone in a bare app here, which records what reaches it: the messages are
the whole contract, and the view changes nothing by itself.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.message import Message

from flowmonkey import Engine, ExecutionStatus
from flowmonkey_console.backend import Backend
from flowmonkey_console.options import ConsoleOptions
from flowmonkey_console.widgets.console_view import ConsoleView
from flowmonkey_console.widgets.execution_list import ExecutionListView
from flowmonkey_console.widgets.executions_view import ExecutionsView
from flowmonkey_console.widgets.flows_view import FlowsView
from tests.console.support import FrozenClock, make_engine, start, wait_for


class OneView(App[None]):
    """A bare app around one view: it records the messages and does nothing else."""

    def __init__(self, engine: Engine, view: type[ConsoleView]) -> None:
        super().__init__()
        options = ConsoleOptions(worker=False, flows_dir=Path("/nonexistent/flowmonkey-console-tests"))
        self.backend = Backend(engine, options=options)
        self.view = view(self.backend, id="view")
        self.seen: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.view

    def on_mount(self) -> None:
        self.view.flush()
        self.view.focus_body()

    def on_execution_list_view_open_requested(self, message: ExecutionListView.OpenRequested) -> None:
        self.seen.append(message)

    def on_execution_list_view_action_requested(self, message: ExecutionListView.ActionRequested) -> None:
        self.seen.append(message)

    def on_execution_list_view_copy_requested(self, message: ExecutionListView.CopyRequested) -> None:
        self.seen.append(message)

    def on_flows_view_open_requested(self, message: FlowsView.OpenRequested) -> None:
        self.seen.append(message)

    def on_flows_view_start_requested(self, message: FlowsView.StartRequested) -> None:
        self.seen.append(message)


async def test_an_execution_list_asks_to_open_act_on_and_copy_executions(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    older = await start(engine, "process-order")
    clock.advance(seconds=1)
    newer = await start(engine, "process-order")
    app = OneView(engine, ExecutionsView)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.view
        assert isinstance(view, ExecutionListView)
        await wait_for(pilot, lambda: list(view.rows) == [newer, older], what="the page")
        await pilot.press("enter", "c", "y", "space", "space", "x")
        await wait_for(pilot, lambda: len(app.seen) == 4, what="four messages")
    opened, copied, raw, cancel = app.seen
    assert isinstance(opened, ExecutionListView.OpenRequested) and opened.execution_id == newer
    assert isinstance(copied, ExecutionListView.CopyRequested) and copied.execution_id == newer
    assert isinstance(raw, ExecutionListView.ActionRequested)
    assert (raw.action, raw.execution_ids) == ("raw", [newer])
    assert isinstance(cancel, ExecutionListView.ActionRequested)
    assert (cancel.action, cancel.execution_ids) == ("cancel", [newer, older])  # the marked rows
    assert {message.control for message in app.seen} == {view}
    for execution_id in (newer, older):  # asked, not done: that is the screen's part
        execution = await engine.get(execution_id)
        assert execution is not None and execution.status is ExecutionStatus.WAITING


async def test_the_flows_view_asks_to_open_a_flow_and_to_start_one(clock: FrozenClock) -> None:
    app = OneView(make_engine(clock), FlowsView)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.view.table.row_count == 2, what="the flows")
        await pilot.press("down", "enter", "n")  # daily-report, process-order: by id
        await wait_for(pilot, lambda: len(app.seen) == 2, what="two messages")
    opened, started = app.seen
    assert isinstance(opened, FlowsView.OpenRequested) and opened.flow.id == "process-order"
    assert isinstance(started, FlowsView.StartRequested) and started.flow.id == "process-order"
    assert opened.control is app.view and started.control is app.view
