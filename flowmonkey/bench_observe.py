"""``flowmonkey bench --metrics --tracing``: observe the benchmark's in-process engine as a
worker with them switched on does, spans built and sampled but exported nowhere."""

from __future__ import annotations

from typing import Any

from flowmonkey.bench_workers import BenchmarkError
from flowmonkey.defaults import Engine
from flowmonkey.metrics import INSTALL_HINT, metrics_available
from flowmonkey.observability import Observability
from flowmonkey.tracing import INSTALL_HINT as TRACING_HINT
from flowmonkey.tracing import OpenTelemetryObserver, tracing_available


def observe(engine: Engine, *, metrics: bool, tracing: float | None) -> None:
    """Install metrics (``metrics``) and tracing of ``tracing`` of the run segments
    (None: none) on ``engine``; a missing library is a :class:`BenchmarkError`."""
    if metrics and not metrics_available():
        raise BenchmarkError(INSTALL_HINT.strip())
    if tracing is not None and not tracing_available():
        raise BenchmarkError(TRACING_HINT)
    observability = Observability.build(engine.store, metrics=metrics, tracing=False)
    if tracing is not None:
        observability.tracing = OpenTelemetryObserver(_discarding_provider(tracing))
    observability.install(engine)


def _discarding_provider(ratio: float) -> Any:
    """An SDK tracer provider sampling ``ratio`` of the traces, whose spans are built,
    batched and dropped (None: no SDK)."""
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError:
        return None

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    return provider
