"""Stop signals that arrive before a long-running command is ready for them.

``flowmonkey worker`` may be told to stop (SIGTERM from a supervisor, Ctrl-C) while it is
still importing or opening its store. Until it installs its own handlers, the signals
are remembered, not fatal: the worker then starts, sees one arrived, and stops at once,
gracefully, with exit code 0. This module imports nothing, so it can run first.
"""

from __future__ import annotations

import signal
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[int] = []


def hold_stop_signals() -> None:
    """Remember SIGTERM and SIGINT instead of dying (until the command's own handlers)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _remember)


def _remember(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)


def stop_requested() -> bool:
    """Whether a stop signal arrived while held."""
    return bool(_received)
