"""View 3: executions that wait, with why, since when and until when."""

from __future__ import annotations

from flowmonkey import ExecutionStatus

from .columns import WAIT_COLUMNS
from .execution_list import ExecutionListView


class WaitsView(ExecutionListView):
    """Waiting executions: a timer, a person (``r`` resumes) or a retry backoff; and held
    ones, parked for an operator (``R`` retries, ``S`` skips, ``F`` fails the step)."""

    label = "Waits"
    COLUMNS = WAIT_COLUMNS
    VIEW_STATUSES = (ExecutionStatus.WAITING, ExecutionStatus.HELD)
