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
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from flowmonkey.errors import ErrorCode, StoreError
from flowmonkey.model import Execution, ExecutionStatus, StepRecord, StepStatus
from flowmonkey.observers import Observer

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger("flowmonkey.metrics")

INSTALL_HINT = "metrics need prometheus-client: pip install 'flowmonkey[metrics]'\n"
STORE_GAUGE_TTL = 5.0
KNOWN_CODES = frozenset(code.value for code in ErrorCode)
_RAN_HANDLER = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.WAITING, StepStatus.RETRY, StepStatus.HELD}
)
_FAILED = frozenset({StepStatus.FAILED, StepStatus.RETRY, StepStatus.HELD})
_STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_LATE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 3600)

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


class PrometheusObserver(Observer):
    """Counts what the engine reports into ``registry`` (a new one by default).

    Args:
        registry: where the metrics live (``prometheus_client.REGISTRY`` to share the
            process's default one).
        count_by_status: the store's executions by status, for the per-store gauge
            (refreshed by :meth:`refresh` before a scrape).
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, count_by_status: CountByStatus | None = None
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry if registry is not None else CollectorRegistry()
        metric: dict[str, Any] = {"registry": self.registry, "namespace": "flowmonkey"}
        self.started = Counter(
            "executions_started", "Executions that ran their first step", ["flow"], **metric
        )
        self.finished = Counter(
            "executions_finished", "Executions that ended, by final status", ["flow", "status"], **metric
        )
        self.step_seconds = Histogram(
            "step_duration_seconds",
            "Handler run time per step",
            ["flow", "step"],
            buckets=_STEP_BUCKETS,
            **metric,
        )
        self.failures = Counter(
            "step_failures",
            "Failed step runs by error code (unknown codes: other)",
            ["flow", "code"],
            **metric,
        )
        self.retries = Counter("step_retries", "Failed steps scheduled to retry", ["flow", "step"], **metric)
        self.takeovers = Counter("takeovers", "Executions taken over from a lost worker", ["flow"], **metric)
        self.batch_size = Histogram(
            "commit_batch_size", "Commits written in one transaction", buckets=_BATCH_BUCKETS, **metric
        )
        self.batch_seconds = Histogram("commit_batch_seconds", "Time to write one commit batch", **metric)
        self.commit_seconds = Histogram(
            "commit_duration_seconds",
            "A step's commit as the engine waits for it (queueing included)",
            **metric,
        )
        self.fires = Counter("trigger_fires", "Trigger fires by outcome", ["trigger", "outcome"], **metric)
        self.lateness = Histogram(
            "schedule_lateness_seconds",
            "How late the scheduler started a cron slot",
            ["trigger"],
            buckets=_LATE_BUCKETS,
            **metric,
        )
        self.store_executions = Gauge(
            "store_executions",
            "Executions in the store by status (per store: every process reports the same; use max)",
            ["status"],
            **metric,
        )
        self._count_by_status = count_by_status
        self._counted_at = float("-inf")
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, kind: str, *labels: str) -> Any:
        """The labelled child, cached: ``labels()`` takes a lock and builds a key each time."""
        key = (kind, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- the engine's hooks -------------------------------------------------------------

    def committed(self, execution: Execution, record: StepRecord, seconds: float) -> None:
        flow, outcome = execution.flow_id, record.outcome
        self.commit_seconds.observe(seconds)
        if outcome in _RAN_HANDLER:
            step = record.step_id or ""
            self._child(self.step_seconds, "step", flow, step).observe(record.duration_ms / 1000)
            if execution.step_count == 1:
                self._child(self.started, "started", flow).inc()
            if outcome in _FAILED:
                code = error_code_label(record.error.code if record.error else None)
                self._child(self.failures, "failure", flow, code).inc()
                if outcome is StepStatus.RETRY:
                    self._child(self.retries, "retry", flow, step).inc()
        elif outcome is StepStatus.TAKEOVER:
            self._child(self.takeovers, "takeover", flow).inc()
        if execution.status.is_terminal:
            self._child(self.finished, "finished", flow, execution.status.value).inc()

    def commit_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def trigger_fired(self, trigger_id: str, outcome: str) -> None:
        self._child(self.fires, "fire", trigger_id, outcome).inc()

    def schedule_lateness(self, trigger_id: str, seconds: float) -> None:
        self._child(self.lateness, "late", trigger_id).observe(max(0.0, seconds))

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
        for status, count in counts.items():
            self.store_executions.labels(status.value).set(count)
        self._counted_at = time.monotonic()

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def metrics_endpoint(metrics: PrometheusObserver | None) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: the exposition, or 404 with the install hint without the extra."""

    async def endpoint(request: Request) -> Response:
        if metrics is None:
            return PlainTextResponse(INSTALL_HINT, status_code=404)
        await metrics.refresh()
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return endpoint


__all__ = [
    "INSTALL_HINT",
    "KNOWN_CODES",
    "PrometheusObserver",
    "error_code_label",
    "metrics_available",
    "metrics_endpoint",
]
