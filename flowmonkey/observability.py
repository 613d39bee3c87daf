"""What a worker or a console watches itself with: metrics, traces, log context.

:class:`Observability` composes the observers that are switched on and available
(Prometheus metrics with ``prometheus-client``, OpenTelemetry traces with
``opentelemetry-api`` and a configured tracer provider, the step's log context for JSON
logs), hands them to the engine and the store, and wraps the HTTP app: ``GET /metrics``
beside the webhooks, and a server span per request continuing the caller's
``traceparent``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from flowmonkey.engine import Engine
from flowmonkey.jsonlogs import StepLogContext
from flowmonkey.metrics import PrometheusObserver, metrics_available, metrics_endpoint
from flowmonkey.observers import Observer, combine
from flowmonkey.stores.base import BatchedCommits, Store
from flowmonkey.tracing import INSTALL_HINT as TRACING_HINT
from flowmonkey.tracing import OpenTelemetryObserver, TracedRequests, tracing_available

log = logging.getLogger("flowmonkey.observability")


@dataclass(slots=True, kw_only=True)
class Observability:
    """The observers of one process; build it with :meth:`build`."""

    metrics: PrometheusObserver | None = None
    tracing: OpenTelemetryObserver | None = None
    log_context: StepLogContext | None = None

    @classmethod
    def build(
        cls, store: Store, *, metrics: bool = True, tracing: bool | None = None, log_context: bool = False
    ) -> Observability:
        """The observers asked for that can run here.

        Args:
            store: counted for the per-store gauges.
            metrics: collect Prometheus metrics (if ``prometheus-client`` is installed).
            tracing: trace with OpenTelemetry (True: with the global tracer provider even
                if none was set; None: only if the application set one).
            log_context: name the running step in log lines (for JSON logs).
        """
        return cls(
            metrics=PrometheusObserver(count_by_status=store.count_executions)
            if metrics and metrics_available()
            else None,
            tracing=OpenTelemetryObserver() if _tracing_wanted(tracing) else None,
            log_context=StepLogContext() if log_context else None,
        )

    @property
    def observer(self) -> Observer | None:
        """All of them as one observer (None when none is on)."""
        return combine([self.metrics, self.tracing, self.log_context])

    def install(self, engine: Engine) -> None:
        """Observe ``engine`` (and its store's commit batches)."""
        engine.observe(self.observer)
        if self.metrics is not None and isinstance(engine.store, BatchedCommits):
            engine.store.watch_commits(self.metrics.commit_batch)

    def http(self, source: Any) -> ObservedApp:
        """``source``'s web app (a :class:`~flowmonkey.triggers.TriggerService`) with
        ``GET /metrics`` and, when tracing, a span per request."""
        return ObservedApp(source, self)


@dataclass(frozen=True, slots=True)
class ObservedApp:
    """Builds the web app of ``source`` with the routes and middleware of ``observability``."""

    source: Any
    observability: Observability

    def asgi_app(self, base_path: str | None = None) -> Starlette:
        app: Starlette = self.source.asgi_app(base_path)
        app.router.routes.insert(0, Route("/metrics", metrics_endpoint(self.observability.metrics)))
        tracing = self.observability.tracing
        if tracing is not None:
            app.add_middleware(TracedRequests, tracer=tracing.tracer)
        return app


def _tracing_wanted(asked: bool | None) -> bool:
    if asked is False:
        return False
    if not tracing_available():
        if asked:
            log.warning("%s; running without traces", TRACING_HINT)
        return False
    if asked:
        return True
    from opentelemetry import trace

    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


__all__ = ["Observability", "ObservedApp"]
