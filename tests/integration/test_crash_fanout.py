"""Durable fan-in under crashes: a worker SIGKILLed several times during a 1,000-element
map leaves exactly one child execution per element, each child's step committed once,
and the parent completed with all 1,000 outputs in order.

Children's ends are counted in their own terminal transactions; a kill can fall anywhere
(mid-handler, mid-batch of children being started, between a child's end and the parent's
wake) and the next worker finishes the map from what was committed.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from flowmonkey import Engine, ExecutionQuery, ExecutionStatus, Flow, StepStatus, Store, open_store

ELEMENTS = 1000
KILL_AT = (120, 380, 640)  # children done when each worker is killed
CHILD = {
    "id": "square",
    "initialStepId": "square",
    "steps": {"square": {"type": "square", "input": {"type": "key", "key": "item"}, "outputKey": "r"}},
}
PARENT = {
    "id": "squares",
    "initialStepId": "map",
    "steps": {
        "map": {
            "type": "map",
            "flow": "square",
            "input": {"type": "key", "key": "items"},
            "maxConcurrency": 40,
            "outputSelector": {"type": "key", "key": "r"},
            "outputKey": "squares",
        }
    },
}

WORKER = f"""
import asyncio, sys
from datetime import timedelta
from flowmonkey import Engine, Flow, Result, Runtime, handler, open_store

@handler("square")
async def square(params):
    await asyncio.sleep(0.2)  # so that every kill lands with handlers in flight
    return Result.success(params.input * params.input)

async def main(url, owner):
    async with open_store(url) as store:
        engine = Engine(store, [square], [Flow.from_dict({CHILD!r}), Flow.from_dict({PARENT!r})])
        async with Runtime(engine, lease=timedelta(seconds=1), owner=owner, concurrency=50):
            print("running", flush=True)
            await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _worker(store_url: str, owner: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, store_url, owner], stdout=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None and worker.stdout.readline().strip() == "running"
    return worker


def _kill(worker: subprocess.Popen[str]) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    if worker.stdout is not None:
        worker.stdout.close()


async def _done(store: Store, parent_id: str) -> int:
    fans = await store.fans_of(parent_id)
    return fans[0].done if fans else 0


async def _until(store: Store, parent_id: str, done: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        parent = await store.get_execution(parent_id)
        if await _done(store, parent_id) >= done or (parent is not None and parent.is_terminal):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the map did not reach {done} children done in {seconds}s")


async def _all_children(store: Store, parent_id: str) -> list[Any]:
    children: list[Any] = []
    cursor = None
    while True:
        query = ExecutionQuery(parent_execution_id=parent_id)
        page = await store.list_executions(query, limit=500, cursor=cursor)
        children.extend(page.items)
        if page.next_cursor is None:
            return children
        cursor = page.next_cursor


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_map_survives_workers_killed_mid_run(store_url: str) -> None:
    async with open_store(store_url) as store:
        engine = Engine(store, [], [Flow.from_dict(CHILD), Flow.from_dict(PARENT)])
        parent, _ = await engine.create("squares", {"items": list(range(ELEMENTS))})
        for round_, threshold in enumerate(KILL_AT):
            worker = await asyncio.to_thread(_worker, store_url, f"doomed-{round_}")
            try:
                await _until(store, parent.id, threshold, 60)
            finally:
                await asyncio.to_thread(_kill, worker)
            assert await _done(store, parent.id) < ELEMENTS, "the map ended before the last kill"
        survivor = await asyncio.to_thread(_worker, store_url, "survivor")
        try:
            await _until(store, parent.id, ELEMENTS + 1, 90)
        finally:
            await asyncio.to_thread(_kill, survivor)

        final = await store.get_execution(parent.id)
        assert final is not None and final.status is ExecutionStatus.COMPLETED, final and final.error
        assert final.context["squares"] == [i * i for i in range(ELEMENTS)]
        (fan,) = await store.fans_of(parent.id)
        assert (fan.started, fan.done, fan.failed) == (ELEMENTS, ELEMENTS, 0)
        parent_history = await store.history(parent.id)
        assert [r.outcome for r in parent_history].count(StepStatus.COMPLETED) == 1

        children = await _all_children(store, parent.id)
        assert sorted(child.context["index"] for child in children) == list(range(ELEMENTS))
        assert all(child.status is ExecutionStatus.COMPLETED for child in children)
        takeovers = 0
        for child in children:
            outcomes = [r.outcome for r in await store.history(child.id)]
            assert outcomes.count(StepStatus.COMPLETED) == 1, (child.id, outcomes)
            assert set(outcomes) <= {StepStatus.COMPLETED, StepStatus.TAKEOVER}
            takeovers += outcomes.count(StepStatus.TAKEOVER)
        takeovers += [r.outcome for r in parent_history].count(StepStatus.TAKEOVER)
        assert takeovers > 0  # the kills did land while work was in flight
