"""The console's retention: off by default, on with ``--prune-every`` (embedded runtime),
shown in the help's services and in the header's tooltip."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from flowmonkey import Engine, ExecutionStatus
from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.options import parse_options
from flowmonkey_console.screens.help import HelpScreen
from flowmonkey_console.widgets.console_header import ConsoleHeader
from tests.console.support import (
    FrozenClock,
    main_screen,
    make_app,
    make_engine,
    screen_text,
    start,
    wait_for,
)

OFF = "off: finished executions are kept (--prune-every turns it on)"


def test_pruning_is_off_by_default_and_takes_a_period_and_a_retention() -> None:
    default = parse_options([])
    assert default.prune_every is None and default.retain == timedelta(days=30)
    asked = parse_options(["--prune-every", "1h", "--retain", "7d"])
    assert (asked.prune_every, asked.retain) == (timedelta(hours=1), timedelta(days=7))


async def failed_execution(engine: Engine) -> str:
    execution_id = await start(engine, "daily-report")
    found = await engine.store.get_execution(execution_id)
    assert found is not None and found.status is ExecutionStatus.FAILED
    return execution_id


async def help_and_tooltip(app: ConsoleApp, engine: Engine, pruned: str | None = None) -> tuple[str, str]:
    """The help's text (as one line of words: it wraps its notes in a box) and the
    header's tooltip; with ``pruned``, once that execution is gone from the store."""
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await main_screen(pilot)
        deadline = time.monotonic() + 10
        while pruned is not None and await engine.store.get_execution(pruned) is not None:
            assert time.monotonic() < deadline, "the console did not prune"
            await pilot.pause(0.02)
        tooltip = str(screen.query_one(ConsoleHeader).tooltip)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="the help")
        await pilot.press("end")
        await pilot.pause()
        return " ".join(screen_text(pilot.app).replace("│", " ").split()), tooltip


async def test_without_prune_every_nothing_is_pruned_and_the_console_says_so(clock: FrozenClock) -> None:
    engine = make_engine(clock)
    failed = await failed_execution(engine)
    text, tooltip = await help_and_tooltip(make_app(engine), engine)
    assert f"retention: {OFF}" in text
    assert tooltip == f"retention: {OFF}"
    assert await engine.store.get_execution(failed) is not None


async def test_with_prune_every_the_embedded_runtime_prunes_and_the_console_shows_the_retention(
    clock: FrozenClock, tmp_path: Path
) -> None:
    engine = make_engine(clock)
    failed = await failed_execution(engine)
    app = make_app(
        engine, worker=True, flows_dir=tmp_path, prune_every=timedelta(hours=1), retain=timedelta(0)
    )
    text, tooltip = await help_and_tooltip(app, engine, pruned=failed)
    shown = "completed, failed, cancelled executions kept 0ms after they finish; trigger fires 0ms; pruned every 1h"
    assert f"retention: {shown}" in text
    assert tooltip == f"retention: {shown}"
