"""OpenTelemetry spans of a webhook's execution, from the SDK's in-memory exporter.

A caller posts to a webhook with its own ``traceparent``; the execution calls an HTTP
service (which receives the step's ``traceparent``), waits for an approval, and after the
resume another worker (another engine and runtime on the same SQLite file) runs the rest.
Each run segment is a trace of its own, linked to the request that started the execution
and to the segment before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flowmonkey import Engine, ExecutionStatus, Flow, Runtime
from flowmonkey.observability import Observability
from flowmonkey.stores import Store, open_store
from flowmonkey.tracing import OpenTelemetryObserver
from flowmonkey.triggers import HttpServer, TriggerService, serve_http

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


def order_flow(service_url: str) -> Flow:
    return Flow.from_dict(
        {
            "id": "orders",
            "version": "2.1.0",
            "initialStepId": "reserve",
            "steps": {
                "reserve": {
                    "type": "http",
                    "config": {"url": f"{service_url}/reserve", "method": "POST", "json": {}},
                    "outputKey": "reserved",
                    "transitions": {"onSuccess": "approve"},
                },
                "approve": {
                    "type": "approval",
                    "outputKey": "approval",
                    "transitions": {"onSuccess": "ship"},
                },
                "ship": {
                    "type": "transform",
                    "input": {"type": "static", "value": {"n": 1}},
                    "outputKey": "shipped",
                },
            },
        }
    )


class Service:
    """A downstream HTTP service that remembers the ``traceparent`` of each request."""

    def __init__(self) -> None:
        self.traceparents: list[str | None] = []

    def asgi_app(self, base_path: str | None = None) -> Starlette:
        async def reserve(request: Request) -> JSONResponse:
            self.traceparents.append(request.headers.get("traceparent"))
            return JSONResponse({"reserved": True})

        return Starlette(routes=[Route("/reserve", reserve, methods=["POST"])])


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
async def service() -> AsyncIterator[tuple[Service, HttpServer]]:
    downstream = Service()
    server = await serve_http(downstream, "127.0.0.1", 0)
    yield downstream, server
    await server.stop()


async def worker_engine(store: Store, flow: Flow, provider: TracerProvider) -> Engine:
    engine = Engine(store, flows=[flow])
    Observability(tracing=OpenTelemetryObserver(provider)).install(engine)
    return engine


def named(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


async def test_a_webhook_execution_is_traced_per_segment_and_linked_across_a_wait_and_a_handover(
    tmp_path: Path,
    exporter: InMemorySpanExporter,
    provider: TracerProvider,
    service: tuple[Service, HttpServer],
) -> None:
    downstream, downstream_server = service
    flow = order_flow(downstream_server.url)
    url = f"sqlite:///{tmp_path / 'fm.db'}"
    async with open_store(url) as store_a, open_store(url) as store_b:
        engine_a = await worker_engine(store_a, flow, provider)
        triggers = TriggerService(store_a, engine_a, schedule=None, sync_flows=False)
        observability = Observability(tracing=OpenTelemetryObserver(provider))
        server = await serve_http(observability.http(triggers), "127.0.0.1", 0)
        try:
            await triggers.register("orders-hook", type="http", flow_id="orders")
            async with httpx.AsyncClient(base_url=server.url) as client:
                response = await client.post(
                    "/webhooks/orders-hook", json={"n": 1}, headers={"traceparent": CALLER_TRACEPARENT}
                )
        finally:
            await server.stop()
        assert response.status_code == 201
        execution_id = response.json()["executionId"]
        await Runtime(engine_a, owner="worker-a").run_until_idle(timeout=20)
        waiting = await store_a.get_execution(execution_id)
        assert waiting is not None and waiting.status is ExecutionStatus.WAITING

        engine_b = await worker_engine(store_b, flow, provider)  # another worker takes over
        await engine_b.resume(execution_id, {"approved": True, "by": "ops"})
        async with Runtime(engine_b, owner="worker-b") as runtime_b:
            await runtime_b.run_until_idle(timeout=20)
        done = await store_b.get_execution(execution_id)
        assert done is not None and done.status is ExecutionStatus.COMPLETED

    spans = list(exporter.get_finished_spans())
    (request,) = named(spans, "POST /webhooks/")
    first, second = sorted(named(spans, "run orders"), key=lambda span: span.start_time or 0)

    # The request continues the caller's trace; each segment starts a trace of its own.
    assert request.kind is SpanKind.SERVER and request.context.trace_id == int(CALLER_TRACE, 16)
    assert request.attributes is not None and request.attributes["http.response.status_code"] == 201
    traces = {request.context.trace_id, first.context.trace_id, second.context.trace_id}
    assert len(traces) == 3 and first.parent is None and second.parent is None

    # Segment one links to the request; segment two to the request and to segment one.
    assert links(first) == {("origin", request.context.trace_id, request.context.span_id)}
    assert links(second) == {
        ("origin", request.context.trace_id, request.context.span_id),
        ("previous", first.context.trace_id, first.context.span_id),
    }
    for segment in (first, second):
        assert segment.attributes is not None
        assert segment.attributes["flowmonkey.flow"] == "orders"
        assert segment.attributes["flowmonkey.version"] == "2.1.0"
        assert segment.attributes["flowmonkey.execution_id"] == execution_id
    assert first.attributes is not None and first.attributes["flowmonkey.status"] == "waiting"
    assert second.attributes is not None and second.attributes["flowmonkey.status"] == "completed"

    # Steps are children of their segment, with step, attempt and outcome.
    steps = {span.name: span for span in named(spans, "step ")}
    assert set(steps) == {"step reserve", "step approve", "step ship"}
    assert [step_of(steps["step reserve"]), step_of(steps["step approve"])] == [
        ("reserve", 1, "completed", first.context.span_id),
        ("approve", 1, "waiting", first.context.span_id),
    ]
    assert step_of(steps["step ship"]) == ("ship", 1, "completed", second.context.span_id)

    # The HTTP step sent its span as traceparent to the service it called.
    reserve = steps["step reserve"].context
    (sent,) = downstream.traceparents
    assert sent is not None and sent.startswith(f"00-{reserve.trace_id:032x}-{reserve.span_id:016x}-")


async def test_a_failed_step_span_has_the_error_code_and_an_error_status(
    tmp_path: Path, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    flow = Flow.from_dict(
        {
            "id": "broken",
            "version": "1.0.0",
            "initialStepId": "call",
            "steps": {"call": {"type": "http", "config": {"url": "http://127.0.0.1:9/nothing"}}},
        }
    )
    async with open_store(f"sqlite:///{tmp_path / 'fm.db'}") as store:
        engine = await worker_engine(store, flow, provider)
        execution, _ = await engine.create("broken")
        await Runtime(engine).run_until_idle(timeout=20)
    (step,) = named(list(exporter.get_finished_spans()), "step call")
    assert step.attributes is not None and step.attributes["flowmonkey.outcome"] == "failed"
    assert step.attributes["flowmonkey.error_code"] == "HTTP_ERROR"
    assert step.status.status_code is StatusCode.ERROR
    (segment,) = named(list(exporter.get_finished_spans()), "run broken")
    assert segment.links == () or list(segment.links) == []  # created outside any trace
    assert segment.attributes is not None and segment.attributes["flowmonkey.execution_id"] == execution.id


def links(span: ReadableSpan) -> set[tuple[Any, int, int]]:
    return {
        ((link.attributes or {}).get("flowmonkey.link"), link.context.trace_id, link.context.span_id)
        for link in span.links
    }


def step_of(span: ReadableSpan) -> tuple[Any, Any, Any, int | None]:
    attributes = span.attributes or {}
    parent = span.parent.span_id if span.parent is not None else None
    return (
        attributes["flowmonkey.step"],
        attributes["flowmonkey.attempt"],
        attributes["flowmonkey.outcome"],
        parent,
    )


async def test_a_segment_sampled_out_records_nothing_and_stores_no_trace_context(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    flow = Flow.from_dict(
        {
            "id": "quiet",
            "version": "1.0.0",
            "initialStepId": "a",
            "steps": {
                "a": {
                    "type": "log",
                    "config": {"message": "one"},
                    "outputKey": "x",
                    "transitions": {"onSuccess": "b"},
                },
                "b": {"type": "log", "config": {"message": "two"}, "outputKey": "y"},
            },
        }
    )
    async with open_store(f"sqlite:///{tmp_path / 'fm.db'}") as store:
        engine = await worker_engine(store, flow, provider)
        execution, _ = await engine.create("quiet")
        done = await engine.run(execution.id)
        assert done.status is ExecutionStatus.COMPLETED and done.context == {
            "x": {"message": "one"},
            "y": {"message": "two"},
        }
        stored = await store.get_execution(execution.id)
    assert exporter.get_finished_spans() == ()
    assert stored is not None and "trace_context" not in stored.metadata  # nothing to link to
