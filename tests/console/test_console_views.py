"""Pilot tests: each view shows what the store holds, at 80x24, driven by the keyboard."""

from __future__ import annotations

from pathlib import Path

from textual.events import Key

from flowmonkey import Change, ExecutionStatus
from flowmonkey.model import TriggerDefinition, TriggerType
from flowmonkey_console.screens.execution_detail import ExecutionDetailScreen
from flowmonkey_console.screens.flow_detail import FlowDetailScreen
from flowmonkey_console.screens.help import HelpScreen
from flowmonkey_console.screens.json_editor import JsonEditorScreen
from flowmonkey_console.widgets.execution_list import ExecutionListView
from flowmonkey_console.widgets.key_bar import KeyBar
from tests.console.support import (
    FrozenClock,
    background_at,
    main_screen,
    make_app,
    make_engine,
    screen_text,
    start,
    wait_for,
)


async def test_executions_view_lists_newest_first_with_symbols_and_counts(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    first = await start(engine, "process-order")
    clock.advance(seconds=5)
    second = await start(engine, "daily-report")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        assert list(view.rows) == [second, first]
        await wait_for(pilot, lambda: "◷ 1 waiting" in screen_text(app), what="the status counts")
        text = screen_text(app)
        assert "✘ failed" in text and "◷ waiting" in text and "1-2 of 2" in text
        assert "✘ 1 failed" in text and "✔ 0 completed" in text


async def test_number_keys_and_colon_commands_switch_views(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        for key, view_id in (
            ("1", "flows"),
            ("3", "waits"),
            ("4", "triggers"),
            ("5", "events"),
            ("2", "executions"),
        ):
            await pilot.press(key)
            assert screen.active_view.id == view_id
        await pilot.press("colon", *"waits", "enter")
        assert screen.active_view.id == "waits"
        await pilot.press("colon", *"flows", "enter")
        assert screen.active_view.id == "flows"
        await pilot.press("colon", *"nope", "enter")
        await wait_for(
            pilot, lambda: "no command or execution id :nope" in screen_text(app), what="the error"
        )


async def test_filter_by_status_flow_and_text(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    failed = await start(engine, "daily-report")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        await pilot.press("slash", *"status:failed")
        assert "status:failed" in screen_text(app).splitlines()[-2], (
            "what is typed is visible above the footer"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: list(view.rows) == [failed], what="the failed filter")
        assert "/status:failed" in screen_text(app)
        await pilot.press("slash", "ctrl+u", *"flow:process-order", "enter")
        await wait_for(pilot, lambda: list(view.rows) == [waiting], what="the flow filter")
        await pilot.press("slash", "ctrl+u", *waiting[-6:], "enter")
        await wait_for(pilot, lambda: list(view.rows) == [waiting], what="the id filter")
        await pilot.press("slash", "ctrl+u", *"status:bogus", "enter")
        await wait_for(pilot, lambda: "unknown status 'bogus'" in screen_text(app), what="the error")
        assert list(view.rows) == [waiting], "a bad filter keeps the previous one"


async def test_paging_walks_the_store_a_page_at_a_time(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    ids = []
    for _ in range(30):
        clock.advance(seconds=1)
        ids.append(await start(engine, "daily-report"))
    newest_first = ids[::-1]
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        assert list(view.rows) == newest_first[:18]  # 24 lines minus the chrome
        assert "1-18 of 30" in screen_text(app)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: list(view.rows) == newest_first[18:], what="page 2")
        assert "19-30 of 30" in screen_text(app)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: list(view.rows) == newest_first[:18], what="page 1 again")


async def test_rows_update_in_place_when_an_execution_changes(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        await engine.resume(waiting, {"approved": True})
        await engine.run(waiting)
        await wait_for(
            pilot, lambda: view.rows[waiting].status is ExecutionStatus.COMPLETED, what="the update"
        )
        await pilot.pause()
        assert "✔ completed" in screen_text(app)


async def test_enter_opens_the_detail_with_timeline_and_context(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order", {"order": {"id": 42}})
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen))
        detail = app.screen
        await wait_for(pilot, lambda: detail.execution is not None and detail.history, what="the detail")  # type: ignore[attr-defined]
        await pilot.pause()
        text = screen_text(app)
        assert waiting in text and "process-order 1.2.0" in text
        assert "✔ completed" in text and "◷ waiting" in text and "validate" in text
        assert '"done": "validate"' in text  # the first step's output
        await pilot.press("down")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExecutionDetailScreen))


async def test_waits_view_resumes_with_r(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    await start(engine, "daily-report")
    waiting = await start(engine, "process-order")
    app = make_app(engine, worker=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("3")
        view = screen.active_view
        assert isinstance(view, ExecutionListView)
        await wait_for(pilot, lambda: list(view.rows) == [waiting], what="the waits view")
        assert "needs approval" in screen_text(app)
        await pilot.press("slash", *"status:failed", "enter")
        await wait_for(pilot, lambda: "Waits shows only waiting" in screen_text(app), what="the refusal")
        assert list(view.rows) == [waiting]
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen))
        await pilot.press("f2")
        await wait_for(pilot, lambda: not view.rows, what="the resumed execution to leave the view")
    execution = await engine.get(waiting)
    assert execution is not None and execution.status is ExecutionStatus.COMPLETED


async def test_flows_view_starts_an_execution_and_shows_steps(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("1")
        await wait_for(pilot, lambda: "process-order" in screen_text(app), what="the flows")
        await pilot.press("down")  # daily-report, process-order: by id
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen))
        app.screen.query_one("TextArea").text = "[1]"  # type: ignore[attr-defined]
        await pilot.press("f2")
        await pilot.pause()
        assert "expected a JSON object" in screen_text(app)
        app.screen.query_one("TextArea").text = '{"order": {"id": 7}}'  # type: ignore[attr-defined]
        await pilot.press("f2")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FlowDetailScreen))
        await pilot.pause()
        text = screen_text(app)
        assert "▸ validate  (work)" in text and "onSuccess → approve" in text
    page = await engine.store.list_executions()
    assert [(e.flow_id, e.context) for e in page.items] == [("process-order", {"order": {"id": 7}})]


async def test_triggers_view_pauses_and_fires(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    await engine.store.save_trigger(
        TriggerDefinition(
            id="nightly",
            type=TriggerType.SCHEDULE,
            flow_id="daily-report",
            config={"cron": "0 2 * * *"},
            created_at=clock.now,
            updated_at=clock.now,
        )
    )
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: "nightly" in screen_text(app), what="the trigger")
        assert "0 2 * * *" in screen_text(app) and "✔ on" in screen_text(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: "‖ paused" in screen_text(app), what="the pause")
        await pilot.press("t")
        await wait_for(pilot, lambda: "fired nightly" in screen_text(app), what="the fire")
    trigger = await engine.store.get_trigger("nightly")
    assert trigger is not None and not trigger.enabled
    page = await engine.store.list_executions()
    assert [e.flow_id for e in page.items] == ["daily-report"]


async def test_events_view_streams_filters_and_opens(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("5")
        waiting = await start(engine, "process-order")
        await start(engine, "daily-report")
        await wait_for(pilot, lambda: "step.failed" in screen_text(app), what="the events")
        assert "step.waiting" in screen_text(app) and "step.completed" in screen_text(app)
        await pilot.press("slash", *"waiting", "enter")
        await wait_for(pilot, lambda: "step.failed" not in screen_text(app), what="the filter")
        assert "step.waiting" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen), what="the detail")
        detail = app.screen
        assert isinstance(detail, ExecutionDetailScreen) and detail.execution_id == waiting


async def test_help_lists_keys_with_binding_ids(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        text = screen_text(app)
        assert "execution.resume" in text and "Resume" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_palette_finds_an_execution_by_id(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*waiting[-8:])
        await wait_for(pilot, lambda: f"execution {waiting}" in screen_text(app), what="the hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen))


async def test_flow_file_edits_and_errors_show_up(clock: FrozenClock, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    greeting = flows / "greeting.yaml"
    greeting.write_text(_greeting("1.0.0"))
    engine = make_engine(clock)
    app = make_app(engine, flows_dir=flows)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("1")
        await wait_for(pilot, lambda: "greeting" in screen_text(app), what="the loaded flow")
        assert "1.0.0" in screen_text(app) and "✔ loaded" in screen_text(app)
        greeting.write_text(_greeting("1.1.0"))
        await wait_for(pilot, lambda: "1.1.0" in screen_text(app), timeout=10, what="the reloaded version")
        assert engine.flows.get("greeting").version == "1.1.0"
        greeting.write_text(_greeting("1.2.0").replace("onSuccess: null", "onSuccess: nowhere"))
        await wait_for(pilot, lambda: "✘ greeting.yaml:" in screen_text(app), timeout=10, what="the error")
        assert "1.1.0" in screen_text(app), "the last good version stays live"
        assert "1 flow file(s) failed to load" in screen_text(app)
        await pilot.press("down")  # daily-report, greeting, process-order
        await wait_for(pilot, lambda: 'no step "nowhere"' in screen_text(app), what="the full problem")
        assert "✘ greeting.yaml:7:" in screen_text(app)  # file:line:column


def _greeting(version: str) -> str:
    return (
        f"id: greeting\nversion: {version}\ninitialStepId: hello\nsteps:\n"
        "  hello:\n    type: work\n    transitions: {onSuccess: null}\n"
    )


async def test_keys_typed_ahead_go_to_the_view_just_switched_to(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("1")
        await wait_for(pilot, lambda: "process-order" in screen_text(app))
        for key, char in (("2", "2"), ("enter", "\r")):  # as fast as a terminal delivers them
            event = Key(key, char)
            event.set_sender(app)
            assert app._driver is not None
            app._driver.send_message(event)
        await wait_for(
            pilot, lambda: isinstance(app.screen, ExecutionDetailScreen), what="the execution detail"
        )


async def test_a_command_typed_ahead_is_not_taken_for_action_keys(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        for char in ":exec":  # 'x' would be cancel if it reached the table
            event = Key("colon" if char == ":" else char, char)
            event.set_sender(app)
            assert app._driver is not None
            app._driver.send_message(event)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.screen is screen and screen.active_view.id == "executions"
    execution = await engine.get(waiting)
    assert execution is not None and execution.status is ExecutionStatus.WAITING


async def test_relative_times_move_on_as_time_passes(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        assert "0s ago" in screen_text(app)
        clock.advance(minutes=3)
        screen.active_view.request_reload()  # what the poll does every two seconds
        await wait_for(pilot, lambda: "3m ago" in screen_text(app), what="the new relative time")
        assert "0s ago" not in screen_text(app)


async def test_text_with_brackets_shows_as_it_is(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    execution = await engine.get(waiting)
    assert execution is not None
    reason = "approval [deadline 2026-01-05] [bold]x[/bold]"  # not Rich markup
    change = Change(execution, {"wait_reason": reason, "revision": execution.revision + 1})
    assert await engine.store.commit(change)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("3")
        await wait_for(pilot, lambda: "approval [dead" in screen_text(app), what="the reason, cut at 80")
        await pilot.resize_terminal(160, 48)  # a wider terminal widens the reason column
        await wait_for(pilot, lambda: "approval [deadline 2026-01-05] [bold]x[/bold]" in screen_text(app))


async def test_messages_show_brackets_literally(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("slash", *"status:[/x]", "enter")  # a closing tag, were it markup
        await wait_for(pilot, lambda: "unknown status '[/x]'" in screen_text(app), what="the literal message")
        assert app.is_running


async def test_the_key_bar_shows_the_views_keys_and_a_click_presses_one(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)

        def bottom() -> str:
            return screen_text(app).splitlines()[-1]

        assert "r Resume" in bottom() and "New execution" not in bottom()
        await pilot.press("1")
        await wait_for(pilot, lambda: "n New execution" in bottom(), what="the keys of Flows")
        assert "r Resume" not in bottom()
        assert bottom().rstrip().endswith("▏^p palette")
        await pilot.click(KeyBar, offset=(bottom().index("? Help"), 0))
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")


async def test_the_cursor_row_dims_while_the_prompt_has_the_keys_and_after_a_switch_is_back(
    clock: FrozenClock,
) -> None:
    engine = make_engine(clock)
    execution_id = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        row = execution_id[:7]
        focused = background_at(app, row)
        await pilot.press("slash")
        await wait_for(pilot, lambda: background_at(app, row) != focused, what="the dimmed cursor")
        await pilot.press("escape")
        await wait_for(pilot, lambda: background_at(app, row) == focused, what="the bright cursor")
        await pilot.press("1")
        await wait_for(pilot, lambda: "process-order" in screen_text(app), what="the Flows view")
        await pilot.press("2")
        await wait_for(pilot, lambda: row in screen_text(app), what="the Executions view")
        assert background_at(app, row) == focused
