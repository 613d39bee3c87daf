"""The real ``flowmonkey-console`` in a real terminal (tmux, 80x24), driven by keystrokes.

Starts the console on a fresh SQLite store with the example flows, starts an expense
approval from the Flows view, resumes it from the Waits view and sees it completed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def console_command() -> list[str]:
    """The installed ``flowmonkey-console`` command, as a user runs it (else ``python -m``)."""
    script = Path(sys.executable).parent / "flowmonkey-console"
    return [str(script)] if script.exists() else [sys.executable, "-m", "flowmonkey_console"]


class Tmux:
    """One detached tmux session running a command; keys in, screen text out."""

    def __init__(self, command: list[str], *, cwd: Path, width: int = 80, height: int = 24) -> None:
        self.name = f"fm-console-{uuid.uuid4().hex[:8]}"
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
            if time.monotonic() > deadline:
                before = "\n".join(self.seen[-2:])
                raise AssertionError(
                    f"{before}\n--- {text!r} did not appear within {timeout}s; the screen:\n{screen}"
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
    session = tmux([*console_command(), "--flows", str(flows), "--store", store], cwd=tmp_path)
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
        session.wait_for("line 1, column 3")
        session.type('{"approved": true, "by": "ops"}')
        session.keys("F2")
        session.wait_for("resumed 1")
        session.keys("2")
        screen = session.wait_for("✔ completed")
        assert "expense-appr" in screen and "✔ 1 completed" in session.wait_for("✔ 1 completed")
        log = tmp_path / ".flowmonkey" / "console.log"  # handlers' logs never reach the screen
        assert "paying 42 EUR (approved by ops)" in log.read_text()
        assert "paying 42" not in session.screen()
        capture = os.environ.get("FLOWMONKEY_CONSOLE_CAPTURE")
        if capture:  # for the README: a real 80x24 screen
            Path(capture).write_text(session.screen())
        session.keys("q")
        deadline = time.monotonic() + 10
        while not session.dead():
            assert time.monotonic() < deadline, "q did not quit"
            time.sleep(0.1)
    finally:
        session.close()
