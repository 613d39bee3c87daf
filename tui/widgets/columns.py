"""Table columns: what each shows, and how the room of a wide terminal is shared out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from flowmonkey import Execution, ExecutionStatus

from ..format import DASH, ago, status_text

Cell = str | Text


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """One table column: a key, a header, a width and (for executions) how to render one.

    Past the room the base widths take, a column grows up to ``max_width``: ``first``
    columns (ids, worth most in full) to it before the others when there is room for that,
    then the others each by its ``stretch`` share.
    """

    key: str
    label: str
    width: int
    render: Callable[[Execution, datetime], Cell] | None = None
    stretch: float = 0.0
    max_width: int = 1000
    first: bool = False


def column_widths(columns: Sequence[Column], room: int) -> list[int]:
    """Widths for a table ``room`` cells wide (see :class:`Column`)."""
    widths = [c.width for c in columns]
    extra = max(0, room - sum(widths) - 2 * len(columns) - 1)  # cell padding, the scrollbar
    for index, column in enumerate(columns):
        grow = column.max_width - widths[index]
        if column.first and 0 < grow <= extra:  # whole, or not at all: a longer stub says nothing more
            widths[index] += grow
            extra -= grow
    while extra > 0:
        growing = [i for i, c in enumerate(columns) if c.stretch and widths[i] < c.max_width]
        if not growing:
            break
        total = sum(columns[i].stretch for i in growing)
        given = 0
        for i in growing:
            share = min(int(extra * columns[i].stretch / total), columns[i].max_width - widths[i])
            widths[i] += share
            given += share
        if not given:  # what is left is less than one cell per column
            widths[growing[0]] += 1
            given = 1
        extra -= given
    return widths


def _wake(execution: Execution, now: datetime) -> str:
    """When the wait ends by itself: the timer (``in 5m``), else the timeout (``⌛ in 3d``)."""
    if execution.wake_at is not None:
        return ago(execution.wake_at, now)
    if execution.timeout_at is not None:
        return f"⌛ {ago(execution.timeout_at, now)}"
    return DASH


ID_WIDTH = 27  # a mark and a whole 26-character id
ID = Column(key="id", label="ID", width=11, render=lambda e, now: e.id, max_width=ID_WIDTH, first=True)
FLOW = Column(key="flow", label="FLOW", width=14, render=lambda e, now: e.flow_id, stretch=0.5, max_width=40)
VERSION = Column(key="version", label="VER", width=6, render=lambda e, now: e.flow_version)
STATUS = Column(key="status", label="STATUS", width=11, render=lambda e, now: status_text(e.status))
STEP = Column(
    key="step",
    label="STEP",
    width=9,
    render=lambda e, now: e.current_step_id or DASH,
    stretch=0.5,
    max_width=32,
)
STARTED = Column(key="started", label="STARTED", width=7, render=lambda e, now: ago(e.created_at, now))
UPDATED = Column(key="updated", label="UPDATED", width=7, render=lambda e, now: ago(e.updated_at, now))
REASON = Column(key="reason", label="REASON", width=14, render=lambda e, now: _reason(e), stretch=1.0)
SINCE = Column(key="since", label="SINCE", width=7, render=lambda e, now: ago(e.waiting_since, now))
WAKE = Column(key="wake", label="WAKE/TIMEOUT", width=12, render=lambda e, now: _wake(e, now))

EXECUTION_COLUMNS = (ID, FLOW, VERSION, STATUS, STEP, STARTED, UPDATED)
WAIT_FLOW = Column(
    key="flow", label="FLOW", width=13, render=lambda e, now: e.flow_id, stretch=0.3, max_width=40
)
WAIT_STEP = Column(
    key="step",
    label="STEP",
    width=8,
    render=lambda e, now: e.current_step_id or DASH,
    stretch=0.2,
    max_width=32,
)
WAIT_COLUMNS = (ID, WAIT_FLOW, WAIT_STEP, REASON, SINCE, WAKE)


def _reason(execution: Execution) -> str:
    """Why it waits; a held execution waits for an operator, with the error that held it."""
    if execution.status is ExecutionStatus.HELD and execution.error is not None:
        return f"held: {execution.error.code}: {execution.error.message}"
    return execution.wait_reason or DASH
