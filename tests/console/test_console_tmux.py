"""The real ``flowmonkey-console`` in a real terminal (tmux, 80x24), driven by keystrokes.

Starts the console on a fresh SQLite store with the example flows, starts an expense
approval from the Flows view, resumes it from the Waits view and sees it completed; starts
it ``--readonly`` on a store with a pending execution and a cron trigger and sees nothing
change; types at the ``:`` prompt what once cancelled a waiting execution and sees it wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionStatus, open_store
from flowmonkey.model import TriggerDefinition, TriggerType

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def console_command() -> list[str]:
    """The installed ``flowmonkey-console`` command, as a user runs it (else ``python -m``)."""
    script = Path(sys.executable).parent / "flowmonkey-console"
    return [str(script)] if script.exists() else [sys.executable, "-m", "flowmonkey_console"]


class Tmux:
    """One detached tmux session running a command; keys in, screen text out."""

    def __init__(self, command: list[str], *, cwd: Path, width: int = 80, height: int = 24) -> None:
        self.name = f"fm-console-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        shell = " ".join(_quote(part) for part in command)
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                str(width),
                "-y",
                str(height),
                "-c",
                str(cwd),
                shell,
            ],
            check=True,
            # PYTHONPATH: the engine comes from this checkout, as in this test run (pytest puts it first).
            env={**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(REPO)},
        )
        subprocess.run(["tmux", "set-option", "-t", self.name, "remain-on-exit", "on"], check=True)
        self.seen: list[str] = []  # what each wait saw, for the failure message
        self.log = cwd / ".flowmonkey" / "console.log"  # why it stopped, if it did

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], check=True, capture_output=True, text=True
        )
        return done.stdout

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """Poll the screen until ``text`` is on it; fail with the screen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                self.seen.append(f"--- {text!r} appeared:\n{screen}")
                return screen
            if time.monotonic() > deadline or self.dead():
                before = "\n".join(self.seen[-2:])
                log = self.log.read_text()[-3000:] if self.log.exists() else "(no log)"
                raise AssertionError(
                    f"{before}\n--- {text!r} did not appear within {timeout}s; the screen:\n{screen}"
                    f"\n--- the end of {self.log}:\n{log}"
                )
            time.sleep(0.1)  # polling the terminal, with a deadline

    def dead(self) -> bool:
        done = subprocess.run(
            ["tmux", "display-message", "-p", "-t", self.name, "#{pane_dead}"], capture_output=True, text=True
        )
        return done.stdout.strip() == "1"

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


@pytest.fixture
def tmux() -> Iterator[type[Tmux]]:
    if shutil.which("tmux") is None:
        if IN_CI:
            pytest.fail("tmux is not installed; CI=true requires it for the console test")
        pytest.skip("tmux is not installed")
    yield Tmux


@pytest.mark.slow
def test_approve_an_expense_in_the_real_console(tmux: type[Tmux], tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(REPO / "flows", flows)
    store = f"sqlite:///{tmp_path / 'console.db'}"
    session = tmux([*console_command(), "--flows", str(flows), "--store", store, "--create"], cwd=tmp_path)
    try:
        session.wait_for("Executions")
        session.wait_for("worker: on")
        session.keys("1")
        session.wait_for("expense-appro…")  # the FLOW column cuts it at 80 columns
        session.keys("/")
        session.wait_for("status:failed flow:ID")  # the prompt's placeholder: it has the keys
        session.type("expense")
        session.wait_for("expense\n")  # echoed at the end of the prompt line
        session.keys("Enter")
        session.wait_for("1 flows")
        session.keys("n")
        session.wait_for("Start expense-approval")
        session.wait_for("line 1, column 3")  # the editor has the keyboard; {} is selected
        session.type('{"expense": {"amount": 42, "reason": "taxi"}}')
        session.keys("F2")
        session.wait_for("started ")
        session.keys("3")
        session.wait_for("approval: Appr")
        session.keys("r")
        session.wait_for("data (JSON)")
        session.wait_for("expects {approved*: boolean, by*: string}")  # the step's resumeSchema
        session.wait_for('"approved": false,')  # its skeleton, selected: typing replaces it
        session.wait_for("line 4, column 2")
        session.type('{"approved": true, "by": "ops"}')
        session.keys("F2")
        session.wait_for("resumed ")
        session.keys("2")
        screen = session.wait_for("✔ completed")
        assert "expense-appr" in screen and "✔ 1 completed" in session.wait_for("✔ 1 completed")
        log = tmp_path / ".flowmonkey" / "console.log"  # handlers' logs never reach the screen
        assert "paying 42 EUR (approved by ops)" in log.read_text()
        assert "paying 42" not in session.screen()
        capture = os.environ.get("FLOWMONKEY_CONSOLE_CAPTURE")
        if capture:  # for the README: a real 80x24 screen
            Path(capture).write_text(session.screen())
        quit_console(session)
    finally:
        session.close()


def quit_console(session: Tmux) -> None:
    session.keys("q")
    deadline = time.monotonic() + 10
    while not session.dead():
        assert time.monotonic() < deadline, "q did not quit"
        time.sleep(0.1)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "flowmonkey", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _add_cron_trigger(url: str) -> None:
    """A schedule due every second, its first slot already past: any scheduler fires it."""
    async with open_store(url) as store:
        now = Engine(store).now()
        trigger = TriggerDefinition(
            id="every-second",
            type=TriggerType.SCHEDULE,
            flow_id="greeting",
            config={"cron": "* * * * * *"},
            next_run_at=now - timedelta(seconds=5),
            created_at=now,
            updated_at=now,
        )
        await store.save_trigger(trigger)


async def _store_state(url: str) -> tuple[object, ...]:
    async with open_store(url, readonly=True) as store:
        executions = [(e.id, e.status, e.revision) for e in (await store.list_executions()).items]
        return executions, await store.list_triggers(), await store.trigger_history("every-second")


@pytest.mark.slow
def test_readonly_changes_nothing_in_the_real_console(tmux: type[Tmux], tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(REPO / "flows", flows)
    (flows / "probe.py").write_text(
        'from pathlib import Path\nPath(__file__).with_name("imported").touch()\n'
    )
    database = tmp_path / "fm.db"
    store = f"sqlite:///{database}"
    started = cli(
        "run",
        "greeting",
        "--input",
        '{"user": {"name": "ro"}}',
        "--json",
        "--store",
        store,
        "--flows",
        str(flows),
        cwd=tmp_path,
    )
    assert started.returncode == 0, started.stderr
    pending = json.loads(started.stdout)
    assert pending["status"] == "pending"
    asyncio.run(_add_cron_trigger(store))
    (flows / "imported").unlink(missing_ok=True)  # the CLI's own load of the flows
    before = asyncio.run(_store_state(store))
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    wake = Path(f"{database}.wake")  # the CLI's signal to the workers is in it already
    signals = wake.read_bytes() if wake.exists() else None
    session = tmux([*console_command(), "--readonly", "--flows", str(flows), "--store", store], cwd=tmp_path)
    try:
        screen = session.wait_for("… pending")
        assert "READONLY" in screen and "worker: off" in screen
        assert "✗x Cancel" in screen
        session.keys("x")
        session.wait_for("read-only console")
        # A runtime runs a pending execution at once, a per-second cron fires every second:
        # watch for three seconds that neither happens.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            assert asyncio.run(_store_state(store)) == before
            time.sleep(0.25)
        session.keys("4")
        session.wait_for("every-second")
        session.keys("1")
        session.wait_for("expense-appro")  # the flow files are listed, read without their code
        quit_console(session)
    finally:
        session.close()
    assert asyncio.run(_store_state(store)) == before
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest
    assert not (flows / "imported").exists(), "the read-only console imported a handler module"
    assert (wake.read_bytes() if wake.exists() else None) == signals, "the read-only console signalled"


@pytest.mark.slow
def test_keys_typed_at_the_prompt_leave_a_waiting_execution_waiting(tmux: type[Tmux], tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(REPO / "flows", flows)
    store = f"sqlite:///{tmp_path / 'fm.db'}"
    expense = '{"expense": {"amount": 7, "reason": "ink"}}'
    started = cli(
        "run",
        "expense-approval",
        "--input",
        expense,
        "--wait",
        "--json",
        "--store",
        store,
        "--flows",
        str(flows),
        cwd=tmp_path,
    )
    assert started.returncode == 0, started.stderr
    waiting = json.loads(started.stdout)["id"]
    session = tmux([*console_command(), "--flows", str(flows), "--store", store, "--no-worker"], cwd=tmp_path)
    try:
        session.wait_for("◷ waiting")
        session.keys(":", "e", "Tab", "x", "e", "c", "Enter")  # once: tab to the table, x cancel, enter yes
        session.wait_for("[2 Executions]")
        # A person's pause between two commands: the view was Executions already, so nothing
        # on screen says the first has run. (Both in one burst: test_console_safety, Pilot.)
        time.sleep(1.0)
        session.keys(":", "w", "a", "Tab", "Enter")  # once: tab to the table, enter opened the detail
        screen = session.wait_for("[3 Waits]")
        assert "Execution " + waiting not in screen
        session.keys("2")
        session.wait_for("[2 Executions]")
        quit_console(session)
    finally:
        session.close()

    async def status() -> ExecutionStatus:
        async with open_store(store, readonly=True) as opened:
            execution = await opened.get_execution(waiting)
            assert execution is not None
            return execution.status

    assert asyncio.run(status()) is ExecutionStatus.WAITING
