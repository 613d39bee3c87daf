"""Flow health: how a flow has done lately, from a few bounded store queries.

A flow's health over a window (the console asks for the last hour): how many of its
executions finished there and how (completed, failed, cancelled), the 95th percentile of
their durations, and how many started in each minute. A step's health: its runs in the
executions that started in the window, their median and 95th percentile durations and
how many failed. Every store reads only the window (an index on ``(flow_id,
created_at)`` and one on ``(flow_id, completed_at)``, migration 8), and the durations
behind a percentile are a sample of the most recent ones, so a store of a million
executions answers as fast as one of a thousand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flowmonkey.model import ExecutionStatus, StepStatus

DURATION_SAMPLE = 2000
"""At most this many of the latest finished executions make a flow's p95."""
STEP_SAMPLE = 200
"""A step's numbers come from the latest this many executions started in the window."""
MINUTE = timedelta(minutes=1)

RUN_OUTCOMES = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.RETRY, StepStatus.HELD, StepStatus.WAITING}
)
"""History records of a handler's run (the others record a resume, a cancel, a takeover ...)."""
FAILURE_OUTCOMES = frozenset({StepStatus.FAILED, StepStatus.RETRY, StepStatus.HELD})
"""A run that failed, whether it was retried, held for an operator or ended the execution."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowHealth:
    """One flow over a window: finishes, the p95 duration, starts per minute."""

    flow_id: str
    finished: Mapping[ExecutionStatus, int] = field(default_factory=dict)
    """Executions that finished in the window, by final status."""
    p95_ms: float | None = None
    """95th percentile of the finished (not cancelled) executions' durations, created to finished."""
    started_per_minute: tuple[int, ...] = ()
    """Executions started in each minute of the window, oldest minute first."""

    @property
    def success_rate(self) -> float | None:
        """Completed / (completed + failed) in the window; None when none finished.
        Cancelled ones are an operator's choice, not a failure: they do not count."""
        completed = self.finished.get(ExecutionStatus.COMPLETED, 0)
        failed = self.finished.get(ExecutionStatus.FAILED, 0)
        return completed / (completed + failed) if completed + failed else None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepHealth:
    """One step of a flow: its runs in the window, their durations and failures."""

    step_id: str
    runs: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of ``values``; None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def minutes_in(since: datetime, until: datetime) -> int:
    """How many minute buckets the window has (a part minute counts as one)."""
    return max(0, math.ceil((until - since) / MINUTE))


def flow_health(
    flow_id: str,
    *,
    finished: Iterable[tuple[str, int]],
    durations_ms: Iterable[float],
    started: Iterable[tuple[int, int]],
    minutes: int,
) -> FlowHealth:
    """Put a store's rows together: ``(status, n)`` finishes, durations, ``(minute, n)`` starts."""
    per_minute = [0] * minutes
    for minute, n in started:
        if 0 <= minute < minutes:
            per_minute[minute] += n
    return FlowHealth(
        flow_id=flow_id,
        finished={ExecutionStatus(status): n for status, n in finished},
        p95_ms=percentile(durations_ms, 95),
        started_per_minute=tuple(per_minute),
    )


def step_health(runs: Iterable[tuple[str, str, float]]) -> list[StepHealth]:
    """Per step, from ``(step_id, outcome, duration_ms)`` history rows, by step id."""
    durations: dict[str, list[float]] = {}
    failures: dict[str, int] = {}
    for step_id, outcome, duration in runs:
        status = StepStatus(outcome)
        if status not in RUN_OUTCOMES:
            continue
        durations.setdefault(step_id, []).append(duration)
        failures[step_id] = failures.get(step_id, 0) + (status in FAILURE_OUTCOMES)
    return [
        StepHealth(
            step_id=step_id,
            runs=len(values),
            failures=failures[step_id],
            p50_ms=percentile(values, 50),
            p95_ms=percentile(values, 95),
        )
        for step_id, values in sorted(durations.items())
    ]
