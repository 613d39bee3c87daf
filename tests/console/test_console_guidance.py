"""The views say what they can do and what happened: keys that follow the selected row,
times that move and show in full, a flow tree with real targets, finding things fast,
and feedback that names what was done."""

from __future__ import annotations

import logging
from pathlib import Path

from textual.widgets import Input

from flowmonkey import ExecutionStatus, Flow
from flowmonkey.model import TriggerDefinition, TriggerType
from flowmonkey_console.app import send_logs_to_file
from flowmonkey_console.screens.execution_detail import ExecutionDetailScreen
from flowmonkey_console.screens.flow_detail import FlowDetailScreen
from flowmonkey_console.screens.help import HelpScreen
from flowmonkey_console.screens.json_editor import JsonEditorScreen
from flowmonkey_console.screens.times import TimesScreen
from flowmonkey_console.widgets.execution_list import ExecutionListView
from tests.console.support import (
    FrozenClock,
    main_screen,
    make_app,
    make_engine,
    screen_text,
    start,
    wait_for,
)

EXPENSE = Flow.from_dict(
    {
        "id": "expense-approval",
        "version": "1.0.0",
        "initialStepId": "approve",
        "steps": {
            "approve": {
                "type": "await-approval",
                "outputKey": "decision",
                "transitions": {"onSuccess": "decide"},
            },
            "decide": {
                "type": "switch",
                "config": {"path": "decision.approved", "cases": {"true": "pay"}, "default": "decline"},
            },
            "pay": {"type": "work"},
            "decline": {"type": "work"},
        },
    }
)


def key_bar(app: object) -> str:
    return screen_text(app).splitlines()[-1]


async def test_the_key_bar_offers_only_what_applies_to_the_selected_row(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    clock.advance(seconds=1)
    failed = await start(engine, "daily-report")
    clock.advance(seconds=1)
    completed = await start(engine, "process-order")
    await engine.resume(completed, {"approved": True})
    await engine.run(completed)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        view = screen.active_view
        assert isinstance(view, ExecutionListView) and list(view.rows) == [completed, failed, waiting]
        shown = {
            completed: ("⏎ Open", ("r Resume", "x Cancel", "R Retry")),
            failed: ("R Retry", ("r Resume", "x Cancel")),
            waiting: ("r Resume", ("R Retry",)),
        }
        for execution_id, (present, absent) in shown.items():
            assert view.current_id() == execution_id
            await wait_for(pilot, lambda p=present: p in key_bar(app), what=f"{present} for {execution_id}")  # type: ignore[misc]
            assert not [key for key in absent if key in key_bar(app)], key_bar(app)
            await pilot.press("down")
        await pilot.press("home", "r")  # the completed one: no editor, a reason
        await wait_for(pilot, lambda: "resume applies to waiting" in screen_text(app), what="why")
        assert app.screen is screen and not isinstance(app.screen, JsonEditorScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen), what="the detail")
        await wait_for(pilot, lambda: "c Copy" in key_bar(app), what="the detail's keys")
        assert "Resume" not in key_bar(app) and "Retry" not in key_bar(app)
        await pilot.press("r")
        await wait_for(
            pilot, lambda: "resume applies to waiting" in screen_text(app), what="why, in the detail"
        )
        assert isinstance(app.screen, ExecutionDetailScreen)
    assert (await engine.get(completed)).status is ExecutionStatus.COMPLETED  # type: ignore[union-attr]


async def test_relative_times_in_the_detail_tick_and_t_shows_them_in_full(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "started 0s ago" in screen_text(app), what="the detail")
        clock.advance(seconds=16)  # no event, no reload: only the clock moves
        await wait_for(pilot, lambda: "started 16s ago" in screen_text(app), what="the summary to tick")
        assert "16s ago" in screen_text(app).split("AT", 1)[1], "the timeline ticks too"
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, TimesScreen), what="the times")
        await pilot.pause()
        assert f"execution {waiting}" in screen_text(app)
        assert "created" in screen_text(app) and "2026-01-02 12:00:00 UTC" in screen_text(app)


async def test_t_shows_the_selected_rows_times_in_full_in_every_view(
    clock: FrozenClock, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "greeting.yaml").write_text(
        "id: greeting\nversion: 1.0.0\ninitialStepId: hi\nsteps:\n  hi: {type: work}\n"
    )
    engine = make_engine(clock)
    trigger = TriggerDefinition(
        id="nightly",
        type=TriggerType.SCHEDULE,
        flow_id="daily-report",
        created_at=clock.now,
        updated_at=clock.now,
    )
    await engine.store.save_trigger(trigger)
    app = make_app(engine, flows_dir=flows)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await start(engine, "process-order")  # events for the Events view
        expected = {
            "2": "execution ",
            "3": "execution ",
            "4": "trigger nightly",
            "5": "event ",
            "1": "flow file ",
        }
        for view_key, title in expected.items():
            await pilot.press(view_key)
            await wait_for(pilot, lambda: app.screen.active_view.table.row_count > 0, what=view_key)  # type: ignore[attr-defined]
            if view_key == "1":
                await pilot.press("down")  # daily-report, greeting (the one with a file)
            await pilot.press("T")
            await wait_for(
                pilot, lambda: isinstance(app.screen, TimesScreen), what=f"the times in {view_key}"
            )
            await pilot.pause()
            assert title in screen_text(app) and " UTC" in screen_text(app), screen_text(app)
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, TimesScreen), what="the times to close")


async def test_the_flow_tree_draws_a_switch_with_its_targets(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    engine.flows.register(EXPENSE)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("1", "down", "enter")  # daily-report, expense-approval, process-order
        await wait_for(pilot, lambda: isinstance(app.screen, FlowDetailScreen), what="the tree")
        await pilot.pause()
        text = screen_text(app)
        assert "cases.true → pay" in text and "default → decline" in text
        decide = text[text.index("decide") : text.index("pay  (work)")]
        assert "(complete)" not in decide, "a switch never completes by onSuccess"


async def test_the_filter_applies_as_typed_escape_clears_and_flow_takes_a_prefix(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    engine.flows.register(EXPENSE)
    order = await start(engine, "process-order")
    report = await start(engine, "daily-report")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        await pilot.press("slash", *"flow")  # a key being typed is not a part of an id to look for
        await pilot.pause(0.1)
        assert set(view.rows) == {order, report} and "…" in screen_text(app).splitlines()[-2]
        await pilot.press(*":proc")  # no enter: it applies as it is typed
        await wait_for(pilot, lambda: list(view.rows) == [order], what="the prefix filter")
        await pilot.press(*"x")  # flow:procx names nothing known: taken as typed
        await wait_for(pilot, lambda: not view.rows, what="no flow procx")
        await pilot.press("escape")
        await wait_for(pilot, lambda: set(view.rows) == {order, report}, what="escape to clear it")
        assert view.filter_text == "" and not isinstance(app.focused, Input)
        await pilot.press("slash", *"flow:d", "enter")
        await wait_for(pilot, lambda: list(view.rows) == [report], what="daily-report by its first letter")
        await pilot.press("escape")  # on the view: clears the filter too
        await wait_for(pilot, lambda: len(view.rows) == 2, what="the filter cleared")
        await pilot.press("slash", *"flow:", "enter")
        await wait_for(pilot, lambda: "needs a value" in screen_text(app), what="the problem")


async def test_any_part_of_an_id_finds_it_and_tables_go_home_and_end(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    ids = []
    for _ in range(3):
        clock.advance(seconds=1)
        ids.append(await start(engine, "process-order"))
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        await pilot.press("G")
        assert view.current_id() == ids[0]
        await pilot.press("g")
        assert view.current_id() == ids[2]
        await pilot.press("end")
        assert view.current_id() == ids[0]
        await pilot.press("home")
        assert view.current_id() == ids[2]
        tail = ids[1][-2:]  # what a narrow list shows after the …
        unique = next(
            ids[1][i:] for i in range(len(ids[1]) - 2, 0, -1) if sum(ids[1][i:] in e for e in ids) == 1
        )
        await pilot.press("colon", *unique, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen), what=":<part of an id>")
        assert app.screen.execution_id == ids[1]  # type: ignore[attr-defined]
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*tail)
        await wait_for(pilot, lambda: f"execution {ids[1]}" in screen_text(app), what="the palette hit")


async def test_help_is_per_view_and_explains_filters_symbols_and_dialogs(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help")
        await pilot.pause()
        top = screen_text(app)
        assert "execution.resume" in top and "New execution" not in top, "the Executions view's keys"
        await pilot.press("end")  # one scrollable page: the notes are below the keys
        await pilot.pause()
        bottom = screen_text(app)
        for needed in ("status:failed,waiting", "flow:expense", "since:30m", "◷ waiting", "(No at first)"):
            assert needed in bottom, needed
        await pilot.press("escape", "1", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the Flows help")
        await pilot.pause()
        assert "New execution" in screen_text(app) and "execution.resume" not in screen_text(app)


async def test_an_actions_toast_names_it_and_o_opens_the_execution(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    failed = await start(engine, "daily-report")
    clock.advance(seconds=1)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("R", "y")
        await wait_for(pilot, lambda: f"retried {failed}" in screen_text(app), what="the toast")
        assert "o opens" in screen_text(app)
        status_line = screen_text(app).splitlines()[-2]
        assert "completed" in status_line and "running" in status_line, "the toast covers the status line"
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen), what="o to open it")
        assert app.screen.execution_id == failed  # type: ignore[attr-defined]
        assert screen is not app.screen


async def test_a_broken_flow_file_badges_the_flows_tab_and_a_deleted_one_says_so(
    clock: FrozenClock, tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    greeting = flows / "greeting.yaml"
    greeting.write_text("id: greeting\nversion: 1.0.0\ninitialStepId: hello\nsteps:\n  hello: {type: work}\n")
    app = make_app(make_engine(clock), flows_dir=flows)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)  # the Executions view: the badge must show from here

        def tabs() -> str:
            return screen_text(app).splitlines()[1]

        await pilot.pause(0.3)
        assert "✘" not in tabs()
        greeting.write_text(
            "id: greeting\nversion: 1.1.0\ninitialStepId: nowhere\nsteps:\n  hello: {type: work}\n"
        )
        await wait_for(pilot, lambda: "Flows ✘1" in tabs(), timeout=10, what="the badge")
        greeting.unlink()
        await wait_for(
            pilot, lambda: "greeting.yaml was deleted" in screen_text(app), timeout=10, what="the notice"
        )
        await wait_for(pilot, lambda: "✘" not in tabs(), what="the badge to go")


def test_the_log_is_not_flooded_by_the_file_watcher(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        log_file = send_logs_to_file(tmp_path / "console.log")
        logging.getLogger("watchfiles.main").info("1 change detected")
        logging.getLogger("flowmonkey.runtime").info("kept")
        for handler in root.handlers:
            handler.flush()
        text = log_file.read_text()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], level = saved
        root.setLevel(level)
    assert "1 change detected" not in text and "kept" in text
