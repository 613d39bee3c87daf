"""``--readonly`` is decided by the backend, not by the keys: nothing runs, nothing is
imported, and the store refuses writes at the driver even when the key checks are
bypassed. A mistyped SQLite path is refused, not created."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionStatus, StoreError, open_store
from flowmonkey.model import TriggerDefinition, TriggerType
from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.backend import Backend
from flowmonkey_console.options import ConsoleOptions
from tests.console.support import HANDLERS, REPORT, main_screen, screen_text, wait_for

FLOW = """\
id: daily-report
version: 1.0.0
initialStepId: fetch
steps:
  fetch: {type: boom}
"""
# Importing this module is running code: a read-only console must not do it.
HANDLERS_MODULE = """\
from pathlib import Path
Path(__file__).with_name("imported").write_text("handler code ran")
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fm.db'}"
    return str(request.getfixturevalue("postgres_database"))


def flows_dir(tmp_path: Path) -> Path:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "report.yaml").write_text(FLOW)
    (flows / "handlers.py").write_text(HANDLERS_MODULE)
    return flows


async def seed(url: str) -> str:
    """A pending execution and a cron trigger due every second; returns the execution's id."""
    async with open_store(url) as store:
        engine = Engine(store, HANDLERS, [REPORT])
        pending, _ = await engine.create("daily-report", {"day": "today"})
        now = engine.now()
        trigger = TriggerDefinition(
            id="every-second",
            type=TriggerType.SCHEDULE,
            flow_id="daily-report",
            config={"cron": "* * * * * *"},
            next_run_at=now - timedelta(seconds=5),
            created_at=now,
            updated_at=now,
        )
        await store.save_trigger(trigger)
        return pending.id


async def snapshot(url: str) -> tuple[list[tuple[str, ExecutionStatus, int]], list[object], list[object]]:
    """Everything a runtime, a scheduler or a flow sync would change."""
    async with open_store(url, readonly=True) as store:
        executions = (await store.list_executions()).items
        triggers = await store.list_triggers()
        fires = await store.trigger_history("every-second")
        return [(e.id, e.status, e.revision) for e in executions], list(triggers), list(fires)


async def test_readonly_runs_nothing_and_the_driver_refuses_what_gets_past_the_keys(
    url: str, tmp_path: Path
) -> None:
    pending_id = await seed(url)
    before = await snapshot(url)
    flows = flows_dir(tmp_path)
    options = ConsoleOptions(readonly=True, store_url=url, flows_dir=flows)
    backend = await Backend.from_options(options, handlers=HANDLERS)
    await backend.start()
    try:
        assert backend.worker_label == "off"
        assert {backend.features[name] for name in ("runtime", "triggers")} == {"off (readonly)"}
        assert [flow.id for flow in backend.flows()] == ["daily-report"]  # read without code
        assert [state.name for state in backend.file_states()] == ["report.yaml"]
        # A runtime runs a pending execution within milliseconds, a per-second cron fires
        # within a second: watch for two seconds that neither happens.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert await snapshot(url) == before
            await asyncio.sleep(0.2)
        # Past every key check, straight to the backend: the driver says no.
        report = await _cancelled_or_refused(backend, pending_id)
        assert report, "the cancel went through"
        with pytest.raises(StoreError, match=r"read-only|readonly"):
            await backend.start_execution("daily-report", {})
        with pytest.raises(StoreError, match=r"read-only|readonly"):
            await backend.set_trigger_enabled("every-second", False)
    finally:
        await backend.stop()
    assert await snapshot(url) == before
    assert not (flows / "imported").exists(), "a read-only console imported handler code"


async def _cancelled_or_refused(backend: Backend, execution_id: str) -> str:
    """The refusal of a cancel that bypasses the keys ("" if it went through)."""
    try:
        report = await backend.cancel([execution_id], "past the key checks")
    except StoreError as exc:
        return str(exc)
    assert not report.done
    return report.failed[0][1]


async def test_the_readonly_console_says_so_and_why_a_key_does_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fm.db'}"
    pending_id = await seed(url)
    app = ConsoleApp(
        ConsoleOptions(readonly=True, store_url=url, flows_dir=flows_dir(tmp_path)),
        handlers=HANDLERS,
        poll_interval=None,
    )
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await wait_for(pilot, lambda: pending_id[:7] in screen_text(app), what="the pending execution")
        header = screen_text(app).splitlines()[0]
        assert "READONLY" in header and "worker: off" in header
        assert "✗x Cancel" in screen_text(app).splitlines()[-1]
        await pilot.press("x")
        await wait_for(pilot, lambda: "read-only console" in screen_text(app), what="why x does nothing")
    assert (await snapshot(url))[0] == [(pending_id, ExecutionStatus.PENDING, 0)]


async def test_a_missing_sqlite_file_is_refused_in_the_console(tmp_path: Path) -> None:
    typo = tmp_path / "var" / "lib" / "flowmonky" / "fm.db"
    app = ConsoleApp(ConsoleOptions(store_url=f"sqlite:///{typo}", flows_dir=tmp_path), poll_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: not app.is_running, what="the exit")
    assert app.return_code == 1
    assert not typo.parent.exists(), "nothing may be created"
    created = await Backend.from_options(
        ConsoleOptions(store_url=f"sqlite:///{typo}", flows_dir=tmp_path, create=True)
    )
    await created.stop()
    assert typo.exists(), "--create makes it"


def test_the_console_command_refuses_a_missing_sqlite_file_with_one_line(tmp_path: Path) -> None:
    typo = tmp_path / "flowmonky" / "fm.db"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowmonkey_console",
            "--store",
            f"sqlite:///{typo}",
            "--flows",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"flowmonkey-console: no SQLite database at {typo} (check the path; --create makes a new, empty store)"
    ]
    assert not typo.parent.exists()
