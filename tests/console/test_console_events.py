"""The Events view shows what other processes do: an execution the CLI runs in its own
process appears, heard through the store's wake signal and read from its change feed."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from flowmonkey import open_store
from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.options import ConsoleOptions
from flowmonkey_console.screens.execution_detail import ExecutionDetailScreen
from flowmonkey_console.widgets.events_view import EventsView
from tests.console.support import main_screen, screen_text, wait_for

REPO = Path(__file__).resolve().parents[2]
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORES)
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("postgres_database"))


async def cli(*args: str) -> dict[str, object]:
    """``flowmonkey ARGS --json`` in a process of its own."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flowmonkey",
        *args,
        "--json",
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    answer: dict[str, object] = json.loads(out)
    return answer


async def test_an_execution_the_cli_runs_appears_in_the_events_view(shared_store: str) -> None:
    async with open_store(shared_store):  # the database exists before the console opens it
        pass
    flows = REPO / "flows"
    options = ConsoleOptions(flows_dir=flows, store_url=shared_store, worker=False)
    # No screen poll: the view reads the feed itself (and at once on a signal).
    app = ConsoleApp(options, poll_interval=None, live_clock=False)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("5")
        view = screen.active_view
        assert isinstance(view, EventsView)
        await pilot.app.workers.wait_for_complete()  # the feed's newest, read once
        store = ["--store", shared_store, "--flows", str(flows)]
        expense = '{"expense": {"amount": 7, "reason": "ink"}}'
        waiting = await cli("run", "expense-approval", "--input", expense, "--wait", *store)
        execution_id = str(waiting["id"])

        def shown() -> list[tuple[str, str | None]]:
            return [(row.kind, row.step_id) for row in view.rows if row.execution_id == execution_id]

        await wait_for(
            pilot, lambda: ("step.waiting", "approve") in shown(), timeout=15, what="the CLI's run"
        )
        await cli("resume", execution_id, "--data", '{"approved": true, "by": "cli"}', *store)
        await wait_for(pilot, lambda: ("step.resumed", "approve") in shown(), timeout=15, what="the resume")
        assert execution_id[-2:] in screen_text(app)
        await pilot.press("slash", *execution_id[-6:], "enter", "end", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExecutionDetailScreen), what="the detail")
        detail = app.screen
        assert isinstance(detail, ExecutionDetailScreen) and detail.execution_id == execution_id
