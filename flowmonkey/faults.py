"""Named points where a fault-injection test may kill the process.

A test arms a point in the process it is about to kill (``faults.arm("child-ended")``
in the script it runs); reaching an armed point sends the process SIGKILL at once, so
the test can prove that what happens next survives a crash at exactly that moment.
Unarmed, a point costs one set lookup.

Points:
    child-ended: a child's terminal commit (which also woke its parent) returned.
"""

from __future__ import annotations

import os
import signal

_armed: set[str] = set()


def arm(point: str) -> None:
    """Kill this process when ``point`` is reached."""
    _armed.add(point)


def reached(point: str) -> None:
    if point in _armed:
        os.kill(os.getpid(), signal.SIGKILL)
