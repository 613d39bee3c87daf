"""OpenTelemetry traces of executions: one trace per run segment, one span per step.

An execution that waits for days must not make one trace last days (tracing backends
drop those). So each *run segment* (a runtime claims the execution and steps it while it
stays runnable) is a trace of its own, its root span ``run <flow>`` with a child span
``step <step>`` per handler run. The segment span links to what came before: the
*origin* (the span current when the execution was created, e.g. the webhook request
that started it, which continues the caller's ``traceparent``) and the *previous
segment*. Both are kept with the execution (``metadata["trace_context"]``: W3C
``traceparent`` strings, written by the first step of each segment), so the links hold
across waits, restarts and worker hand-overs.

Needs ``opentelemetry-api`` (the ``tracing`` extra) and, to export anything, an SDK
configured by the application (or ``opentelemetry-instrument``). Without the API,
:func:`inject_traceparent` does nothing and :class:`OpenTelemetryObserver` cannot be made.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from flowmonkey.model import Execution, StepRecord, StepStatus
from flowmonkey.observers import TRACE_METADATA_KEY, Observer, TraceContext

if TYPE_CHECKING:
    from opentelemetry.trace import Span, SpanContext, Tracer, TracerProvider

INSTALL_HINT = "tracing needs opentelemetry-api: pip install 'flowmonkey[tracing]'"
_FAILED = frozenset({StepStatus.FAILED, StepStatus.RETRY, StepStatus.HELD})
_NONE_STORED: TraceContext = {}


def tracing_available() -> bool:
    """Whether ``opentelemetry-api`` can be imported (the ``tracing`` extra)."""
    return _propagate() is not None


@cache
def _propagate() -> Any:
    try:
        from opentelemetry import propagate
    except ImportError:
        return None
    return propagate


def inject_traceparent(headers: MutableMapping[str, str]) -> None:
    """Add the current span's ``traceparent`` (and the configured propagators' other
    headers) to an outgoing request's ``headers``; nothing without OpenTelemetry."""
    propagate = _propagate()
    if propagate is not None:
        propagate.inject(headers)


@dataclass(slots=True)
class _Segment:
    """The run segment in progress in this task: its span and what to store."""

    execution_id: str
    span: Span
    stored: TraceContext
    recording: bool
    written: bool = False
    status: str | None = None


class OpenTelemetryObserver(Observer):
    """Spans of run segments and steps through the OpenTelemetry API.

    Args:
        tracer_provider: where spans go (default: the global one the application set).
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._trace = trace
        self.context = context
        self._new_trace = context.Context()  # a segment's parent: none (immutable, so shared)
        self._link = trace.Link
        self._w3c = TraceContextTextMapPropagator()
        self.tracer: Tracer = trace.get_tracer("flowmonkey", tracer_provider=tracer_provider)
        self._segment: ContextVar[_Segment | None] = ContextVar("flowmonkey_segment", default=None)
        self._step: ContextVar[tuple[str, Span] | None] = ContextVar("flowmonkey_step", default=None)

    # -- the engine's hooks -------------------------------------------------------------

    def segment(self, execution: Execution) -> AbstractContextManager[None]:
        return _SegmentSpan(self, execution)

    def step(self, execution: Execution, step_id: str) -> AbstractContextManager[None] | None:
        segment = self._segment.get()
        if segment is not None and not segment.recording:
            return None  # a segment sampled out: its steps are too (and cost nothing)
        attributes = {
            "flowmonkey.flow": execution.flow_id,
            "flowmonkey.version": execution.flow_version,
            "flowmonkey.step": step_id,
            "flowmonkey.attempt": execution.attempt,
        }
        if segment is None:  # a step run on its own (engine.step): say which execution
            attributes["flowmonkey.execution_id"] = execution.id
        return _StepSpan(self, execution.id, f"step {step_id}", attributes)

    def committed(self, execution: Execution, record: StepRecord, seconds: float) -> None:
        segment = self._segment.get()
        if segment is not None and segment.execution_id == execution.id:
            if not segment.recording:
                return
            segment.status = execution.status.value
        step = self._step.get()
        if step is None or step[0] != execution.id:  # (e.g. a child the step cancelled)
            return
        span = step[1]
        span.set_attribute("flowmonkey.outcome", record.outcome.value)
        if record.outcome in _FAILED and record.error is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("flowmonkey.error_code", record.error.code)
            span.set_status(Status(StatusCode.ERROR, record.error.message))

    def trace_context(self, execution: Execution) -> TraceContext | None:
        segment = self._segment.get()
        if segment is None or segment.written or segment.execution_id != execution.id:
            return None
        if not segment.recording:  # a segment sampled out leaves nothing to link to
            return None
        segment.written = True
        current = self._traceparent(segment.span)
        if current is None:  # a no-op tracer: nothing worth storing
            return None
        kept = {"segment": current}
        if "origin" in segment.stored:
            kept["origin"] = segment.stored["origin"]
        return kept

    def origin(self) -> TraceContext | None:
        current = self._traceparent(self._trace.get_current_span())
        return {"origin": current} if current is not None else None

    # -- W3C trace context --------------------------------------------------------------

    def _traceparent(self, span: Span) -> str | None:
        if not span.get_span_context().is_valid:
            return None
        carrier: dict[str, str] = {}
        self._w3c.inject(carrier, context=self._trace.set_span_in_context(span))
        return carrier.get("traceparent")

    def _links(self, stored: TraceContext) -> Iterator[tuple[str, SpanContext]]:
        for role in ("origin", "segment"):
            traceparent = stored.get(role)
            if not isinstance(traceparent, str):
                continue
            found = self._trace.get_current_span(self._w3c.extract({"traceparent": traceparent}))
            context = found.get_span_context()
            if context.is_valid:
                yield ("previous" if role == "segment" else role), context


class _SegmentSpan:
    """A run segment's span, the root of a new trace, current while the segment runs."""

    __slots__ = ("_execution", "_observer", "_segment", "_tokens")

    def __init__(self, observer: OpenTelemetryObserver, execution: Execution) -> None:
        self._observer = observer
        self._execution = execution

    def __enter__(self) -> None:
        observer, execution = self._observer, self._execution
        stored: TraceContext = execution.metadata.get(TRACE_METADATA_KEY) or _NONE_STORED
        link = observer._link
        links = (
            [link(found, {"flowmonkey.link": role}) for role, found in observer._links(stored)]
            if stored
            else None
        )
        span = observer.tracer.start_span(
            f"run {execution.flow_id}",
            context=observer._new_trace,  # a new trace: a segment never extends another's
            links=links,
            attributes=_attributes(execution),
        )
        segment = self._segment = _Segment(execution.id, span, stored, span.is_recording())
        self._tokens = (
            observer.context.attach(observer._trace.set_span_in_context(span)),
            observer._segment.set(segment),
        )

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        attached, token = self._tokens
        observer, segment = self._observer, self._segment
        observer._segment.reset(token)
        observer.context.detach(attached)
        span = segment.span
        if segment.recording:
            if exc is not None:
                from opentelemetry.trace import Status, StatusCode

                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            if segment.status is not None:
                span.set_attribute("flowmonkey.status", segment.status)
        span.end()


class _StepSpan:
    """A step's span, current while the handler runs (a class: cheaper than a generator)."""

    __slots__ = ("_attributes", "_execution_id", "_name", "_observer", "_span", "_tokens")

    def __init__(
        self, observer: OpenTelemetryObserver, execution_id: str, name: str, attributes: dict[str, Any]
    ) -> None:
        self._observer = observer
        self._execution_id = execution_id
        self._name = name
        self._attributes = attributes

    def __enter__(self) -> None:
        observer = self._observer
        span = self._span = observer.tracer.start_span(self._name, attributes=self._attributes)
        self._tokens = (
            observer.context.attach(observer._trace.set_span_in_context(span)),
            observer._step.set((self._execution_id, span)),
        )

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        attached, step = self._tokens
        observer, span = self._observer, self._span
        observer._step.reset(step)
        observer.context.detach(attached)
        if exc is not None:
            span.record_exception(exc)
        span.end()


def _attributes(execution: Execution) -> dict[str, Any]:
    return {
        "flowmonkey.flow": execution.flow_id,
        "flowmonkey.version": execution.flow_version,
        "flowmonkey.execution_id": execution.id,
    }


class TracedRequests:
    """ASGI middleware: each HTTP request runs in a server span that continues the
    caller's ``traceparent`` (so a webhook's execution links to the caller's trace)."""

    def __init__(self, app: Any, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind

        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        method, path = scope["method"], scope["path"]
        attributes = {"http.request.method": method, "url.path": path}
        with self.tracer.start_as_current_span(
            f"{method} {path}",
            context=_propagate().extract(headers),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:

            async def traced_send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, traced_send)


__all__ = [
    "INSTALL_HINT",
    "OpenTelemetryObserver",
    "TracedRequests",
    "inject_traceparent",
    "tracing_available",
]
