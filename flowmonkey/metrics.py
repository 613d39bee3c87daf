"""Prometheus metrics of the engine, the runtime, the stores' commits and the triggers.

:class:`PrometheusObserver` is an :class:`~flowmonkey.observers.Observer` that counts into
a ``prometheus_client`` registry (the optional extra ``flowmonkey[metrics]``); it is
imported only when that package is there. :func:`metrics_endpoint` serves them as
``GET /metrics``, or answers 404 saying what to install.

Labels are bounded: flow, step and trigger ids (which the flow files fix) and error codes
from :class:`~flowmonkey.errors.ErrorCode` (any other code counts as ``other``), never an
execution id. Store-wide numbers (``flowmonkey_store_executions``) are counted from the
store at most every :data:`STORE_GAUGE_TTL` seconds: every process on one store reports
the same figure, so aggregate them with ``max``, never ``sum``.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from flowmonkey.errors import ErrorCode, StoreError
from flowmonkey.model import Execution, ExecutionStatus, StepRecord, StepStatus
from flowmonkey.observers import Observer

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

log = logging.getLogger("flowmonkey.metrics")

INSTALL_HINT = "metrics need prometheus-client: pip install 'flowmonkey[metrics]'\n"
METRICS_OFF = "metrics are off in this process (--no-metrics)\n"
STORE_GAUGE_TTL = 5.0
KNOWN_CODES = frozenset(code.value for code in ErrorCode)
_RAN_HANDLER = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.WAITING, StepStatus.RETRY, StepStatus.HELD}
)
_FAILED = frozenset({StepStatus.FAILED, StepStatus.RETRY, StepStatus.HELD})
_COMPLETED, _RETRY, _TAKEOVER = StepStatus.COMPLETED, StepStatus.RETRY, StepStatus.TAKEOVER
"""Read as module constants on every step (a member read through its enum class is slow)."""
_ENDED = {status: status.value for status in ExecutionStatus if status.is_terminal}
"""The final statuses, each with its label (an enum's ``.value`` is a slow property)."""
_STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_LATE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 3600)
_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

CountByStatus = Callable[[], Awaitable[dict[ExecutionStatus, int]]]


@cache
def metrics_available() -> bool:
    """Whether ``prometheus_client`` can be imported (the ``metrics`` extra)."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


def error_code_label(code: str | None) -> str:
    """``code`` when FlowMonkey knows it, else ``other`` (handlers' own codes are unbounded)."""
    return code if code in KNOWN_CODES else "other"


class _Histogram:
    """One labelled histogram's counts, kept without locks (every hook runs on the event
    loop's thread) and turned into Prometheus samples only when scraped."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: over every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # bucket i: value <= bounds[i]
        self.sum += value

    def buckets(self) -> list[tuple[str, float]]:
        total, cumulative = 0, list[tuple[str, float]]()
        for bound, count in zip((*map(_bound, self.bounds), "+Inf"), self.counts, strict=True):
            total += count
            cumulative.append((bound, total))
        return cumulative


@dataclass(frozen=True, slots=True, eq=False)
class _Family:
    """A metric: its name (without ``flowmonkey_``), help text and label names. Each is
    one constant, hashed by identity (a dataclass's field hash is Python code, and every
    step looks families up)."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    bounds: tuple[float, ...] | None = None  # a histogram's; None for a counter


STARTED = _Family("executions_started", "Executions that ran their first step", ("flow",))
FINISHED = _Family("executions_finished", "Executions that ended, by final status", ("flow", "status"))
STEP_SECONDS = _Family(
    "step_duration_seconds", "Handler run time per step run", ("flow", "step"), _STEP_BUCKETS
)
FAILURES = _Family("step_failures", "Failed step runs by error code (unknown codes: other)", ("flow", "code"))
RETRIES = _Family("step_retries", "Failed step runs scheduled to retry", ("flow", "step"))
TAKEOVERS = _Family("takeovers", "Executions taken over from a lost worker", ("flow",))
BATCH_SIZE = _Family("commit_batch_size", "Commits written in one transaction", (), _BATCH_BUCKETS)
BATCH_SECONDS = _Family("commit_batch_seconds", "Time to write one transaction of commits", (), _SECONDS)
COMMIT_SECONDS = _Family(
    "commit_duration_seconds", "A commit as the engine waits for it (queueing included)", (), _SECONDS
)
FIRES = _Family("trigger_fires", "Trigger fires by outcome", ("trigger", "outcome"))
LATENESS = _Family("schedule_lateness_seconds", "How late a cron slot started", ("trigger",), _LATE_BUCKETS)
FAMILIES = (
    STARTED,
    FINISHED,
    STEP_SECONDS,
    FAILURES,
    RETRIES,
    TAKEOVERS,
    BATCH_SIZE,
    BATCH_SECONDS,
    COMMIT_SECONDS,
    FIRES,
    LATENESS,
)
STORE_EXECUTIONS = "Executions in the store by status (per store: every process reports the same; use max)"


class PrometheusObserver(Observer):
    """Counts what the engine reports, for ``prometheus_client`` to collect from ``registry``
    (a new one by default; ``prometheus_client.REGISTRY`` shares the process's).

    The hooks only add to plain counters (a step costs a few dictionary look-ups, no
    lock); the samples are built when scraped.

    Args:
        registry: where the metrics are collected.
        count_by_status: the store's executions by status, for the per-store gauge
            (counted by :meth:`refresh` before a scrape).
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, count_by_status: CountByStatus | None = None
    ) -> None:
        from prometheus_client import CollectorRegistry

        self.registry = registry if registry is not None else CollectorRegistry()
        self._counters: dict[_Family, dict[tuple[str, ...], float]] = {
            f: {} for f in FAMILIES if not f.bounds
        }
        self._histograms: dict[_Family, dict[tuple[str, ...], _Histogram]] = {
            f: {} for f in FAMILIES if f.bounds
        }
        self._commit_seconds = self._histograms[COMMIT_SECONDS][()] = _Histogram(_SECONDS)
        self._step_seconds = self._histograms[STEP_SECONDS]
        self._store_counts: dict[str, int] = {}
        self._count_by_status = count_by_status
        self._counted_at = float("-inf")
        self.registry.register(self)  # a collector: collect() below

    def _inc(self, family: _Family, *labels: str) -> None:
        values = self._counters[family]
        values[labels] = values.get(labels, 0) + 1

    def _observe(self, family: _Family, value: float, *labels: str) -> None:
        histograms = self._histograms[family]
        histogram = histograms.get(labels)
        if histogram is None:
            assert family.bounds is not None
            histogram = histograms[labels] = _Histogram(family.bounds)
        histogram.observe(value)

    # -- the engine's hooks -------------------------------------------------------------

    def committed(self, execution: Execution, record: StepRecord, seconds: float) -> None:
        # Every step passes here: the two histograms every step feeds are looked up directly.
        self._commit_seconds.observe(seconds)
        outcome = record.outcome
        if outcome in _RAN_HANDLER:
            key = (execution.flow_id, record.step_id or "")
            histogram = self._step_seconds.get(key)
            if histogram is None:
                histogram = self._step_seconds[key] = _Histogram(_STEP_BUCKETS)
            histogram.observe((record.finished_at - record.started_at).total_seconds())
            if execution.step_count == 1:
                self._inc(STARTED, key[0])
            if outcome is not _COMPLETED and outcome in _FAILED:
                self._inc(FAILURES, key[0], error_code_label(record.error.code if record.error else None))
                if outcome is _RETRY:
                    self._inc(RETRIES, *key)
        elif outcome is _TAKEOVER:
            self._inc(TAKEOVERS, execution.flow_id)
        ended = _ENDED.get(execution.status)
        if ended is not None:
            self._inc(FINISHED, execution.flow_id, ended)

    def commit_batch(self, size: int, seconds: float) -> None:
        self._observe(BATCH_SIZE, size)
        self._observe(BATCH_SECONDS, seconds)

    def trigger_fired(self, trigger_id: str, outcome: str) -> None:
        self._inc(FIRES, trigger_id, outcome)

    def schedule_lateness(self, trigger_id: str, seconds: float) -> None:
        self._observe(LATENESS, max(0.0, seconds), trigger_id)

    # -- scraping -----------------------------------------------------------------------

    async def refresh(self) -> None:
        """Count the store's executions by status, unless counted in the last few seconds."""
        if self._count_by_status is None or time.monotonic() - self._counted_at < STORE_GAUGE_TTL:
            return
        try:
            counts = await self._count_by_status()
        except StoreError as exc:  # the last figures stay; the scrape still answers
            log.warning("metrics: could not count the store's executions: %s", exc.message)
            return
        self._store_counts = {status.value: count for status, count in counts.items()}
        self._counted_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        """The samples, for ``prometheus_client``'s registry."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        for family, values in self._counters.items():
            counter = CounterMetricFamily(f"flowmonkey_{family.name}", family.help, labels=family.labels)
            for labels, value in list(values.items()):
                counter.add_metric(list(labels), value)
            yield counter
        for family, histograms in self._histograms.items():
            histogram = HistogramMetricFamily(f"flowmonkey_{family.name}", family.help, labels=family.labels)
            for labels, counts in list(histograms.items()):
                histogram.add_metric(list(labels), counts.buckets(), counts.sum)
            yield histogram
        gauge = GaugeMetricFamily("flowmonkey_store_executions", STORE_EXECUTIONS, labels=("status",))
        for status, count in self._store_counts.items():
            gauge.add_metric([status], count)
        yield gauge

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _bound(value: float) -> str:
    return repr(float(value))


def metrics_endpoint(metrics: PrometheusObserver | None) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: the exposition, or 404 with the install hint without the extra."""

    async def endpoint(request: Request) -> Response:
        if metrics is None:
            return PlainTextResponse(METRICS_OFF if metrics_available() else INSTALL_HINT, status_code=404)
        await metrics.refresh()
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return endpoint


__all__ = [
    "INSTALL_HINT",
    "KNOWN_CODES",
    "METRICS_OFF",
    "PrometheusObserver",
    "error_code_label",
    "metrics_available",
    "metrics_endpoint",
]
