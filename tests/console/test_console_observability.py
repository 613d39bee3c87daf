"""The console watched from outside: ``/metrics`` next to its webhooks, and its log file
in the JSON lines of ``flowmonkey worker --log-format json``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from flowmonkey import (
    Engine,
    ExecutionStatus,
    Flow,
    HandlerParams,
    MemoryStore,
    Result,
    StepResult,
    handler,
)
from flowmonkey.jsonlogs import FIELDS
from flowmonkey.model import TriggerDefinition, TriggerType
from flowmonkey_console.app import send_logs_to_file
from flowmonkey_console.backend import Backend
from flowmonkey_console.options import ConsoleOptions
from tests.console.support import FrozenClock, make_engine


async def test_the_console_serves_metrics_beside_its_webhooks(clock: FrozenClock, tmp_path: Path) -> None:
    engine = make_engine()
    await engine.store.save_trigger(
        TriggerDefinition(
            id="report-hook",
            type=TriggerType.HTTP,
            flow_id="daily-report",
            created_at=clock.now,
            updated_at=clock.now,
        )
    )
    backend = Backend(engine, options=ConsoleOptions(worker=True, flows_dir=tmp_path, http=("127.0.0.1", 0)))
    await backend.start()
    try:
        async with httpx.AsyncClient(base_url=backend.http_url or "") as client:
            answer = await client.post("/webhooks/report-hook", json={"day": "today"})
            execution_id = answer.json()["executionId"]
            deadline = time.monotonic() + 10
            while (execution := await engine.get(execution_id)) is None or not execution.is_terminal:
                assert time.monotonic() < deadline, f"the embedded runtime did not run {execution_id}"
                await asyncio.sleep(0.01)
            scrape = await client.get("/metrics")
    finally:
        await backend.stop()
    assert execution.status is ExecutionStatus.FAILED and scrape.status_code == 200
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
    }
    assert (
        found[("flowmonkey_executions_finished_total", (("flow", "daily-report"), ("status", "failed")))] == 1
    )
    assert found[("flowmonkey_trigger_fires_total", (("outcome", "ok"), ("trigger", "report-hook")))] == 1
    assert found[("flowmonkey_store_executions", (("status", "failed"),))] == 1


@handler("chatty")
async def chatty(params: HandlerParams) -> StepResult:
    logging.getLogger("shop").warning("stock low for %s", params.input)
    return Result.success(None)


STOCK = Flow.from_dict(
    {"id": "stock", "version": "1.0.0", "initialStepId": "check", "steps": {"check": {"type": "chatty"}}}
)


async def test_the_console_log_has_the_fields_of_the_worker_json_lines(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        log_file = send_logs_to_file(tmp_path / "console.log")
        logging.getLogger("flowmonkey.runtime").info("outside any step")
        engine = Engine(MemoryStore(), [chatty], [STOCK])
        Backend(engine, options=ConsoleOptions(worker=False, flows_dir=tmp_path))  # observes the engine
        execution, _ = await engine.create("stock", {"sku": "A-1"})
        await engine.run(execution.id)
        for log_handler in root.handlers:
            log_handler.flush()
        lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    finally:
        for log_handler in root.handlers:
            log_handler.close()
        root.handlers[:], level = saved
        root.setLevel(level)
    assert [list(line)[: len(FIELDS)] for line in lines] == [list(FIELDS)] * len(lines)
    outside = next(line for line in lines if line["event"] == "outside any step")
    assert outside["execution_id"] is None and outside["worker"].startswith("console:")
    stock = next(line for line in lines if line["logger"] == "shop")
    assert (stock["level"], stock["execution_id"], stock["flow"], stock["step"], stock["attempt"]) == (
        "warning",
        execution.id,
        "stock",
        "check",
        1,
    )
    assert stock["event"] == "stock low for {'sku': 'A-1'}"
