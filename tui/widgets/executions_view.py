"""View 2: every execution, newest first, a page at a time."""

from __future__ import annotations

from .columns import EXECUTION_COLUMNS
from .execution_list import ExecutionListView


class ExecutionsView(ExecutionListView):
    """Executions of all flows; ``/`` filters by status, flow, age and id."""

    label = "Executions"
    COLUMNS = EXECUTION_COLUMNS
