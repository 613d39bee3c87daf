"""At-least-once, made visible: a worker SIGKILLed mid-handler leaves a takeover record,
and the handler's re-run gets the same idempotency key with ``delivery == 2``.

Before, the history showed one record and nobody could see that the handler ran twice.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from flowmonkey import (
    Engine,
    ExecutionStatus,
    Flow,
    HandlerParams,
    Result,
    Runtime,
    StepResult,
    StepStatus,
    handler,
    open_store,
)

FLOW = {
    "id": "charge",
    "initialStepId": "prepare",
    "steps": {
        "prepare": {"type": "log", "config": {"message": "ready"}, "transitions": {"onSuccess": "charge"}},
        "charge": {"type": "charge", "outputKey": "receipt"},
    },
}

SCRIPT = f"""
import asyncio, sys
from datetime import timedelta
from flowmonkey import Engine, Flow, Result, Runtime, handler, open_store

@handler("charge")
async def charge(params):
    print("charging", params.idempotency_key, params.delivery, flush=True)
    await asyncio.sleep(3600)  # the test kills the process here, mid-handler
    return Result.success({{}})

async def main(url):
    async with open_store(url) as store:
        engine = Engine(store, [charge], [Flow.from_dict({FLOW!r})])
        execution, _ = await engine.create("charge", {{}})
        print("created", execution.id, flush=True)
        async with Runtime(engine, lease=timedelta(seconds=1), owner="doomed-worker"):
            await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1]))
"""


def _run_until_mid_handler(store_url: str) -> tuple[str, str]:
    """Start the script, SIGKILL it once its handler is running; (execution id, key)."""
    execution_id = key = ""
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT, store_url], stdout=subprocess.PIPE, text=True
    ) as worker:
        assert worker.stdout is not None
        for line in worker.stdout:
            words = line.split()
            if words[0] == "created":
                execution_id = words[1]
            elif words[0] == "charging":
                key = words[1]
                assert words[2] == "1"  # the first delivery
                break
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert execution_id and key, "the worker never reached the handler"
    return execution_id, key


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_worker_lost_mid_handler_is_visible_and_the_rerun_keeps_its_key(store_url: str) -> None:
    execution_id, first_key = await asyncio.to_thread(_run_until_mid_handler, store_url)
    runs: list[dict[str, Any]] = []

    @handler("charge")
    async def charge(params: HandlerParams) -> StepResult:
        runs.append({"key": params.idempotency_key, "delivery": params.delivery})
        return Result.success({"charged": params.idempotency_key})

    async with open_store(store_url) as store:
        engine = Engine(store, [charge], [Flow.from_dict(FLOW)])
        events: list[str] = []
        engine.events.subscribe(lambda e: events.append(e.type.value), ["execution.taken_over"])
        async with Runtime(engine, lease=timedelta(seconds=1), owner="rescuer") as runtime:
            for _ in range(100):  # the lost worker's lease lapses within a second
                await runtime.run_until_idle(timeout=10)
                final = await store.get_execution(execution_id)
                if final is not None and final.is_terminal:
                    break
                await asyncio.sleep(0.1)
        history = await store.history(execution_id)
    assert final is not None and final.status is ExecutionStatus.COMPLETED
    assert runs == [{"key": first_key, "delivery": 2}]  # the same key: an external call can dedupe
    assert final.context["receipt"] == {"charged": first_key}
    outcomes = [(r.step_id, r.outcome) for r in history]
    assert outcomes == [
        ("prepare", StepStatus.COMPLETED),
        ("charge", StepStatus.TAKEOVER),
        ("charge", StepStatus.COMPLETED),
    ]
    takeover = history[1]
    assert "worker doomed-worker was lost" in (takeover.note or "") and takeover.attempt == 1
    assert events == ["execution.taken_over"]
