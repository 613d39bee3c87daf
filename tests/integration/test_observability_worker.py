"""A running worker process watched from outside: its /metrics scraped and parsed, its
JSON log lines parsed, and /metrics without prometheus-client installed."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flowmonkey.jsonlogs import FIELDS
from flowmonkey.metrics import INSTALL_HINT
from tests.integration.runtime_support import WorkerProcess, eventually

pytestmark = pytest.mark.slow

FLOW = """\
id: orders
version: 1.0.0
initialStepId: check
steps:
  check: {type: note, outputKey: checked, transitions: {onSuccess: charge}}
  charge:
    type: flaky
    outputKey: paid
    retry: {maxAttempts: 2, backoff: 10ms, retryOn: [HTTP_ERROR]}
    transitions: {onSuccess: done, onFailure: declined}
  declined: {type: decline}
  done: {type: note, outputKey: done}
triggers:
  - {id: orders-hook, type: http, contextKey: order}
"""

HANDLERS = """\
import logging
from flowmonkey import HandlerParams, Result, StepResult, handler

log = logging.getLogger("shop")


@handler("note")
async def note(params: HandlerParams) -> StepResult:
    log.info("noted")
    return Result.success({"ok": True})


@handler("flaky")
async def flaky(params: HandlerParams) -> StepResult:
    # The first attempt fails (a known code, retried); the second passes unless the
    # order says decline.
    if params.attempt == 1:
        return Result.failure("HTTP_ERROR", "the gateway timed out")
    if params.execution.context["order"].get("decline"):
        return Result.failure("CARD_DECLINED", "declined")
    return Result.success({"charged": True})


@handler("decline")
async def decline(params: HandlerParams) -> StepResult:
    return Result.failure("CARD_DECLINED", "the order was declined")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "orders.yaml").write_text(FLOW)
    (directory / "handlers.py").write_text(HANDLERS)
    return directory


@pytest.fixture
async def worker(tmp_path: Path, flows: Path) -> AsyncIterator[tuple[WorkerProcess, str]]:
    port = free_port()
    store = f"sqlite:///{tmp_path / 'fm.db'}"
    process = WorkerProcess(
        "--store", store, "--flows", str(flows), "--http", f"127.0.0.1:{port}", "--log-format", "json"
    )
    await process.start()
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        await process.close()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition by (name, labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_a_scrape_of_a_running_worker_counts_what_it_did(worker: tuple[WorkerProcess, str]) -> None:
    _, url = worker
    async with httpx.AsyncClient(base_url=url) as client:
        for n in range(3):
            response = await client.post("/webhooks/orders-hook", json={"n": n})
            assert response.status_code == 201
        declined = await client.post("/webhooks/orders-hook", json={"decline": True})
        assert declined.status_code == 201

        async def all_finished() -> bool:
            found = samples((await client.get("/metrics")).text)
            ended = value(found, "flowmonkey_executions_finished_total", flow="orders", status="completed")
            failed = value(found, "flowmonkey_executions_finished_total", flow="orders", status="failed")
            return ended == 3 and failed == 1

        async def store_counted() -> bool:  # the per-store gauges are counted every few seconds
            found = samples((await client.get("/metrics")).text)
            return value(found, "flowmonkey_store_executions", status="failed") == 1

        await eventually(all_finished, timeout=30)
        await eventually(store_counted, timeout=30, every=0.5)
        response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert value(found, "flowmonkey_executions_started_total", flow="orders") == 4
    assert value(found, "flowmonkey_step_duration_seconds_count", flow="orders", step="check") == 4
    assert value(found, "flowmonkey_step_duration_seconds_count", flow="orders", step="charge") == 8
    assert value(found, "flowmonkey_step_duration_seconds_count", flow="orders", step="done") == 3
    assert value(found, "flowmonkey_step_retries_total", flow="orders", step="charge") == 4
    # Four retried HTTP_ERRORs; a handler's own code (CARD_DECLINED, twice) counts as other.
    assert value(found, "flowmonkey_step_failures_total", flow="orders", code="HTTP_ERROR") == 4
    assert value(found, "flowmonkey_step_failures_total", flow="orders", code="other") == 2
    assert value(found, "flowmonkey_trigger_fires_total", trigger="orders-hook", outcome="ok") == 4
    assert value(found, "flowmonkey_store_executions", status="completed") == 3
    assert value(found, "flowmonkey_store_executions", status="failed") == 1
    assert value(found, "flowmonkey_store_executions", status="waiting") == 0
    assert value(found, "flowmonkey_commit_batch_size_count") > 0
    assert value(found, "flowmonkey_commit_duration_seconds_count") == 4 * 4  # one per history record
    assert not any("execution" in label for _, labels in found for label, _ in labels)


async def test_json_logs_are_one_object_per_line_naming_the_execution_and_step(
    worker: tuple[WorkerProcess, str],
) -> None:
    process, url = worker
    async with httpx.AsyncClient(base_url=url) as client:
        execution_id = (await client.post("/webhooks/orders-hook", json={"n": 1})).json()["executionId"]
    await eventually(lambda: any("execution.completed" in line for line in process.lines), timeout=30)
    await process.terminate()
    lines = [json.loads(line) for line in process.lines]  # every line is one JSON object
    assert all(list(line)[: len(FIELDS)] == list(FIELDS) for line in lines)
    assert all(line["worker"] for line in lines)
    completed = next(line for line in lines if line["event"].startswith("execution.completed"))
    assert completed["execution_id"] == execution_id and completed["flow"] == "orders"
    assert completed["level"] == "info"
    noted = [line for line in lines if line["logger"] == "shop" and line["execution_id"] == execution_id]
    assert [(line["step"], line["attempt"], line["flow"]) for line in noted] == [
        ("check", 1, "orders"),
        ("done", 1, "orders"),
    ]


async def test_without_prometheus_client_metrics_is_404_with_the_install_hint(
    tmp_path: Path, flows: Path
) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "prometheus_client.py").write_text("raise ImportError('not installed')\n")
    port = free_port()
    process = WorkerProcess(
        "--store", f"sqlite:///{tmp_path / 'fm.db'}", "--flows", str(flows), "--http", f"127.0.0.1:{port}"
    )
    process.env = {"PYTHONPATH": str(shadow)}
    await process.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/metrics")
            started = await client.post("/webhooks/orders-hook", json={"n": 1})
    finally:
        await process.close()
    assert response.status_code == 404 and response.text == INSTALL_HINT
    assert started.status_code == 201  # the webhooks work on
