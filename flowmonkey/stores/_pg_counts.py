"""Counting a large PostgreSQL table of executions without reading it.

``count(*)`` over a million executions reads a million index entries (about 110 ms); a
console asks for the counts on every refresh. From :data:`ESTIMATE_FROM_ROWS` rows on, an
unfiltered count counts the unfinished executions (few, each status a short range of
the status index) and estimates the finished ones from the planner's statistics (the
table's row count times each status's share, kept by ANALYZE and autovacuum); the
result names the estimated statuses, which a reader shows as "about".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from flowmonkey.model import ExecutionStatus
from flowmonkey.stores._pg_sql import SQL
from flowmonkey.stores.base import ExecutionCounts

ESTIMATE_FROM_ROWS = 200_000
"""From this many executions on, an unfiltered count estimates the finished ones."""

Fetch = Callable[..., Awaitable[list[Any]]]


async def estimated_counts(fetch: Fetch) -> ExecutionCounts | None:
    """The counts with the finished estimated; None on a table small enough to count."""
    rows = await fetch("count_executions", SQL["execution_estimate"])
    if not rows or rows[0][0] < ESTIMATE_FROM_ROWS or rows[0][1] is None:
        return None
    total, statuses, shares = rows[0]
    counts = ExecutionCounts(dict.fromkeys(ExecutionStatus, 0))
    for status, n in await fetch("count_executions", SQL["count_unfinished"]):
        counts[ExecutionStatus(status)] = n
    finished = frozenset(s for s in ExecutionStatus if s.is_terminal)
    for status, share in zip(statuses, shares, strict=True):
        if ExecutionStatus(status) in finished:
            counts[ExecutionStatus(status)] = round(total * share)
    counts.estimated = finished
    return counts
