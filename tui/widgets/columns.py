"""Column definitions of the execution tables: what each column shows and how wide it is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from flowmonkey import Execution

from ..format import DASH, ago, status_text

Cell = str | Text


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """One table column: a key, a header, a width and how to render an execution."""

    key: str
    label: str
    width: int
    render: Callable[[Execution, datetime], Cell]
    stretch: float = 0.0  # the share of the room past 80 columns this column takes
    max_width: int = 1000


def column_widths(columns: Sequence[Column], room: int) -> list[int]:
    """Widths for a table ``room`` cells wide: the base widths, and what is left over
    shared by the stretchy columns (a wide terminal shows whole reasons and flow ids)."""
    used = sum(c.width + 2 for c in columns) + 1  # cell padding, and the scrollbar
    extra = max(0, room - used)
    return [min(c.width + int(extra * c.stretch), max(c.width, c.max_width)) for c in columns]


def _wake(execution: Execution, now: datetime) -> str:
    """When the wait ends by itself: the timer (``in 5m``), else the timeout (``⌛ in 3d``)."""
    if execution.wake_at is not None:
        return ago(execution.wake_at, now)
    if execution.timeout_at is not None:
        return f"⌛ {ago(execution.timeout_at, now)}"
    return DASH


ID = Column(key="id", label="ID", width=11, render=lambda e, now: e.id)
FLOW = Column(key="flow", label="FLOW", width=14, render=lambda e, now: e.flow_id, stretch=0.5, max_width=32)
VERSION = Column(key="version", label="VER", width=6, render=lambda e, now: e.flow_version)
STATUS = Column(key="status", label="STATUS", width=11, render=lambda e, now: status_text(e.status))
STEP = Column(
    key="step",
    label="STEP",
    width=9,
    render=lambda e, now: e.current_step_id or DASH,
    stretch=0.5,
    max_width=24,
)
STARTED = Column(key="started", label="STARTED", width=7, render=lambda e, now: ago(e.created_at, now))
UPDATED = Column(key="updated", label="UPDATED", width=7, render=lambda e, now: ago(e.updated_at, now))
REASON = Column(
    key="reason", label="REASON", width=14, render=lambda e, now: e.wait_reason or DASH, stretch=1.0
)
SINCE = Column(key="since", label="SINCE", width=7, render=lambda e, now: ago(e.waiting_since, now))
WAKE = Column(key="wake", label="WAKE/TIMEOUT", width=12, render=lambda e, now: _wake(e, now))

EXECUTION_COLUMNS = (ID, FLOW, VERSION, STATUS, STEP, STARTED, UPDATED)
WAIT_FLOW = Column(key="flow", label="FLOW", width=13, render=lambda e, now: e.flow_id)
WAIT_STEP = Column(key="step", label="STEP", width=8, render=lambda e, now: e.current_step_id or DASH)
WAIT_COLUMNS = (ID, WAIT_FLOW, WAIT_STEP, REASON, SINCE, WAKE)
