"""Pilot tests of the operator's actions: resume, cancel, retry, marks, copy, readonly."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, TextArea

from flowmonkey import Engine, ExecutionStatus
from flowmonkey.model import TriggerDefinition, TriggerType
from flowmonkey_console.app import load_keymap
from flowmonkey_console.availability import READONLY
from flowmonkey_console.screens.confirm import ConfirmScreen
from flowmonkey_console.screens.json_editor import JsonEditorScreen
from flowmonkey_console.screens.raw_json import RawJsonScreen
from tests.console.support import (
    FrozenClock,
    main_screen,
    make_app,
    make_engine,
    screen_text,
    start,
    wait_for,
)


async def status_of(engine: Engine, execution_id: str) -> ExecutionStatus:
    execution = await engine.get(execution_id)
    assert execution is not None
    return execution.status


async def test_resume_with_valid_json_sends_the_data(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen), what="the editor")
        editor = app.screen.query_one(TextArea)
        editor.text = '{"approved": true,\n "by": "ops"}'
        await pilot.press("f2")
        await wait_for(
            pilot, lambda: not isinstance(app.screen, JsonEditorScreen), what="the editor to close"
        )
    execution = await engine.get(waiting)
    assert execution is not None and execution.status is not ExecutionStatus.WAITING
    assert execution.context["decision"] == {"approved": True, "by": "ops"}


async def test_resume_with_invalid_json_shows_where_and_sends_nothing(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen))
        app.screen.query_one(TextArea).text = '{"approved": true,\n  "by": }'
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, JsonEditorScreen), "invalid JSON must keep the editor open"
        await pilot.pause()
        assert "✘ line 2, column 9" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, JsonEditorScreen))
    assert await status_of(engine, waiting) is ExecutionStatus.WAITING
    history = await engine.store.history(waiting)
    assert [r.outcome.value for r in history] == ["completed", "waiting"]


async def test_cancel_with_confirmation_and_reason(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("shift+tab")  # from No (where the focus starts) to the reason
        await pilot.press(*"duplicate")
        await pilot.press("enter")  # the reason is done: to Yes, one more deliberate key
        assert app.focused is not None and app.focused.id == "confirm-yes"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await wait_for(pilot, lambda: "cancelled" in str(app.screen.active_view.rows[waiting].status))  # type: ignore[attr-defined]
    execution = await engine.get(waiting)
    assert execution is not None and execution.status is ExecutionStatus.CANCELLED
    assert execution.cancellation is not None and execution.cancellation.reason == "duplicate"


async def test_cancel_escape_changes_nothing(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
    assert await status_of(engine, waiting) is ExecutionStatus.WAITING


async def test_marked_rows_are_cancelled_together_after_a_preview(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    ids = []
    for _ in range(3):
        clock.advance(seconds=1)
        ids.append(await start(engine, "process-order"))
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("space", "space")  # marks the two newest
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        assert "Cancel 2 marked executions?" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await wait_for(pilot, lambda: not screen.active_view.marked)  # type: ignore[attr-defined]
    statuses = [await status_of(engine, i) for i in ids]
    assert statuses == [ExecutionStatus.WAITING, ExecutionStatus.CANCELLED, ExecutionStatus.CANCELLED]


async def test_retry_continues_the_same_execution_from_its_failed_step(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    failed = await start(engine, "daily-report", {"day": "2026-01-01"})
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: f"retried {failed}" in screen_text(app), what="the retry")
    assert len(engine.store._executions) == 1  # type: ignore[attr-defined]
    retried = await engine.get(failed)
    assert retried is not None and retried.status is ExecutionStatus.RUNNING
    assert retried.current_step_id == "fetch" and retried.context == {"day": "2026-01-01"}
    history = await engine.store.history(failed)
    assert [r.outcome.value for r in history] == ["failed", "retried"]


async def test_copy_puts_the_id_on_the_clipboard_and_y_shows_json(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("c")
        assert app.clipboard == waiting
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, RawJsonScreen))
        await pilot.pause()
        shown = screen_text(app)
        assert waiting in shown and '"status": "waiting"' in shown


async def test_readonly_refuses_every_change_and_says_why(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    clock.advance(seconds=1)
    failed = await start(engine, "daily-report")
    app = make_app(engine, readonly=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("down")  # the waiting one: resume and cancel apply, read-only refuses
        await wait_for(pilot, lambda: "✗r Resume" in screen_text(app).splitlines()[-1], what="the marked key")
        assert "✗x Cancel" in screen_text(app).splitlines()[-1]
        await pilot.press("r")
        await wait_for(pilot, lambda: "read-only console (--readonly)" in screen_text(app), what="the reason")
        await pilot.press("x", "R")
        await pilot.pause(0.1)
        assert app.screen is screen, "no editor or confirmation may open"
        assert "READONLY" in screen_text(app)
    assert await status_of(engine, waiting) is ExecutionStatus.WAITING
    assert await status_of(engine, failed) is ExecutionStatus.FAILED
    assert len((await engine.store.list_executions()).items) == 2


async def test_ctrl_c_does_not_quit_and_q_does(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("ctrl+c", "ctrl+q")
        await pilot.pause(0.1)
        assert app.is_running
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="quit")


async def test_filter_prompt_input_is_not_taken_for_keys(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"quit", "escape")
        assert app.is_running and screen.active_view.filter_text == ""


async def test_readonly_disables_start_fire_and_pause_too(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    trigger = TriggerDefinition(
        id="nightly",
        type=TriggerType.SCHEDULE,
        flow_id="daily-report",
        created_at=clock.now,
        updated_at=clock.now,
    )
    await engine.store.save_trigger(trigger)
    app = make_app(engine, readonly=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: "nightly" in screen_text(app), what="the trigger")
        await pilot.press("1", "down")
        await wait_for(pilot, lambda: "process-order" in screen_text(app), what="the flows")
        for view_id, action in (("flows", "start"), ("triggers", "fire"), ("triggers", "pause")):
            assert screen.view(view_id).availability(action).reason == READONLY
        await pilot.press("n")
        await pilot.pause(0.1)
        assert app.screen is screen
    assert (await engine.store.list_executions()).items == []


async def test_a_keymap_remaps_a_binding_by_id(clock: FrozenClock, tmp_path: Path) -> None:
    keymap = tmp_path / "keys.toml"
    keymap.write_text('"execution.resume" = "f5"\n')
    engine = make_engine(clock)
    await start(engine, "process-order")
    app = make_app(engine)
    app.set_keymap(load_keymap(str(keymap)))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen), what="the editor on f5")
