"""``flowmonkey worker`` stops gracefully (exit 0) on SIGTERM at any moment of its life.

Before, a SIGTERM in the first moments (while the worker imported its modules or opened
its store) killed it with -15.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FLOWMONKEY = str(Path(sys.executable).with_name("flowmonkey"))


def _worker(tmp_path: Path) -> subprocess.Popen[bytes]:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    command = [FLOWMONKEY, "worker", "--store", f"sqlite:///{tmp_path / 'w.db'}", "--flows", str(flows)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (``SigCgt`` in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _wait_until_it_catches_sigterm(worker: subprocess.Popen[bytes]) -> float:
    """Seconds from spawn until the interpreter ran FlowMonkey's first line (the only
    window no program can cover: before it runs, a signal ends any process)."""
    started = time.monotonic()
    while not _catches_sigterm(worker.pid):
        assert worker.poll() is None and time.monotonic() - started < 10, "the worker never got going"
        time.sleep(0.0005)
    return time.monotonic() - started


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.35, 0.6, 1.0, 2.0])
def test_sigterm_at_any_moment_is_a_graceful_exit_0(tmp_path: Path, delay: float) -> None:
    worker = _worker(tmp_path)
    uncovered = _wait_until_it_catches_sigterm(worker)
    assert uncovered < 2.0
    time.sleep(delay)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr


def test_sigint_after_start_is_a_graceful_exit_0(tmp_path: Path) -> None:
    worker = _worker(tmp_path)
    assert worker.stderr is not None
    deadline = time.monotonic() + 20
    line = b""
    while b"ready" not in line:
        assert time.monotonic() < deadline, "the worker never said it was ready"
        line = worker.stderr.readline()
    worker.send_signal(signal.SIGINT)
    _, rest = worker.communicate(timeout=30)
    assert worker.returncode == 0 and b"stopping" in rest, rest.decode()[-2000:]
