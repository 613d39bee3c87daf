"""Keys never reach what is behind a prompt or a dialog, and confirmations default to No.

Each test asserts the stored execution, not only the screen: what matters is that
nothing changed.
"""

from __future__ import annotations

import string
from typing import Any

from textual.events import Key
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Input

from flowmonkey import Engine, Execution, ExecutionStatus
from flowmonkey_console.screens.confirm import ConfirmScreen
from flowmonkey_console.screens.execution_detail import ExecutionDetailScreen
from flowmonkey_console.screens.json_editor import JsonEditorScreen
from tests.console.support import (
    FrozenClock,
    main_screen,
    make_app,
    make_engine,
    screen_text,
    start,
    wait_for,
)

PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "


async def stored(engine: Engine, execution_id: str) -> Execution:
    execution = await engine.get(execution_id)
    assert execution is not None
    return execution


def typed_ahead(pilot: Pilot[Any], *keys: str) -> None:
    """Keys as a terminal delivers a burst: all queued before the first is handled."""
    app = pilot.app
    assert app._driver is not None
    for key in keys:
        character = key if len(key) == 1 else {"enter": "\r", "tab": "\t"}.get(key)
        event = Key(_character_to_key(key) if len(key) == 1 else key, character)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_every_key_typed_at_the_prompt_stays_in_the_prompt(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    before = await stored(engine, waiting)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        assert screen.active_view.current_key() == waiting
        await pilot.press("colon")
        for character in PRINTABLE:
            await pilot.press(_character_to_key(character), "tab")
            assert isinstance(app.focused, Input) and app.screen is screen, f"{character!r} left the prompt"
        assert screen.prompt.input.value == PRINTABLE
        await pilot.press("enter")  # garbage: neither a command nor a part of an id
        await wait_for(pilot, lambda: "no command or execution id" in screen_text(app), what="the refusal")
        assert app.screen is screen and app.is_running
    assert await stored(engine, waiting) == before


async def test_the_sequence_that_once_cancelled_an_execution_switches_the_view(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    before = await stored(engine, waiting)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        typed_ahead(pilot, ":", "e", "tab", "x", "e", "c", "enter")  # e+tab: events or exec(utions)
        await pilot.pause(0.2)
        await wait_for(pilot, lambda: not screen.prompt.is_open, what="the command to run")
        assert app.screen is screen and screen.active_view.id == "executions"
        typed_ahead(pilot, ":", "w", "a", "tab", "enter")  # once, tab moved to the table and enter opened
        await wait_for(pilot, lambda: screen.active_view.id == "waits", what="the Waits view")
        typed_ahead(pilot, ":", "w", "a", "enter")  # a prefix that names one command runs it
        await pilot.pause(0.2)
        assert app.screen is screen and not isinstance(app.screen, ExecutionDetailScreen)
        typed_ahead(pilot, ":", "f", "l", "enter", ":", "e", "x", "e", "c", "enter", "x")  # two in one burst
        await wait_for(pilot, lambda: screen.active_view.id == "executions", what="the second command")
        await pilot.pause(0.2)
        assert app.screen is screen, "the x typed past the last enter reached the table"
    assert await stored(engine, waiting) == before


async def test_a_command_that_finishes_after_the_next_prompt_opened_leaves_the_keys_there(
    clock: FrozenClock,
) -> None:
    # ``:exec⏎:wa⇥⏎`` in one burst: the view switch of the first command can run after the
    # second ``:`` opened the prompt again. It once focused the table there, the prompt
    # closed and ``wa`` went to the table (CI, under load).
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("colon", "w")
        screen.action_show("executions")  # the first command's switch, arriving late
        await pilot.pause()
        assert screen.prompt.is_open and app.focused is screen.prompt.input
        await pilot.press("a", "tab", "enter")
        await wait_for(pilot, lambda: screen.active_view.id == "waits", what="the Waits view")
        assert app.screen is screen
    assert (await stored(engine, waiting)).status is ExecutionStatus.WAITING


async def test_keys_typed_in_a_dialog_stay_in_the_dialog(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    before = await stored(engine, waiting)
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        dialog = app.screen
        for character in PRINTABLE.replace("y", "").replace("n", ""):  # y and n answer it
            await pilot.press(_character_to_key(character))
            assert app.screen is dialog and app.is_running, f"{character!r} got past the dialog"
        await pilot.press("escape")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen), what="the editor")
        editor = app.screen
        for character in "qx:/?12345R":
            await pilot.press(_character_to_key(character))
            assert app.screen is editor and app.is_running
        await pilot.press("escape")
    assert await stored(engine, waiting) == before


async def test_enter_in_a_confirmation_means_no_and_y_means_yes(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    waiting = await start(engine, "process-order")
    clock.advance(seconds=1)
    failed = await start(engine, "daily-report")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("R")  # the failed one is the newest: under the cursor
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the retry dialog")
        assert app.focused is not None and app.focused.id == "confirm-no"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        await pilot.press("down", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the cancel dialog")
        typed_ahead(pilot, "enter")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        assert len((await engine.store.list_executions()).items) == 2, "enter retried"
        assert (await stored(engine, waiting)).status is ExecutionStatus.WAITING, "enter cancelled"
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the cancel dialog")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
    assert (await stored(engine, waiting)).status is ExecutionStatus.CANCELLED
    assert (await stored(engine, failed)).status is ExecutionStatus.FAILED


async def test_a_bulk_action_on_more_than_ten_asks_for_the_count(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    ids = []
    for _ in range(12):
        clock.advance(seconds=1)
        ids.append(await start(engine, "process-order"))
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press(*["space"] * 12, "x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the bulk dialog")
        await pilot.pause()
        assert "type 12 to confirm" in screen_text(app)
        await pilot.press("y", "enter")  # y is typed into the count, not taken for yes
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "type 12, the number" in screen_text(app)
        assert all([(await stored(engine, i)).status is ExecutionStatus.WAITING for i in ids])
        await pilot.press("backspace", "1", "2", "enter")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        await wait_for(pilot, lambda: "cancelled 12 executions" in screen_text(app), what="the report")
    assert all([(await stored(engine, i)).status is ExecutionStatus.CANCELLED for i in ids])
