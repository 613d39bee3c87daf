"""``flowmonkey bench --scenario map``: one map step over a list, each element a child
execution of a one-step flow, run by one in-process :class:`~flowmonkey.runtime.Runtime`
(the path a worker takes: claims, leases, the fan-in's wakes).

Reports the wall time from create to the parent's completion, children per second, and
how often the parent was woken (its step runs: the fan-in wakes it once per half of
``maxConcurrency`` children, not per child).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from flowmonkey.defaults import Engine
from flowmonkey.model import ExecutionStatus, Flow, StepStatus
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult
from flowmonkey.runtime import Runtime
from flowmonkey.stores import Store

PARENT = "bench-map"
CHILD = "bench-map-item"


class BenchmarkMapError(Exception):
    """The benchmark's map did not complete with every output: its time would mean nothing."""


@handler("bench.square")
async def _square(params: HandlerParams) -> StepResult:
    return Result.success(params.input * params.input)


@dataclass(frozen=True, slots=True, kw_only=True)
class MapRun:
    """One map's measurement."""

    elements: int
    max_concurrency: int
    seconds: float
    children_per_s: float
    parent_runs: int


def flows(max_concurrency: int) -> list[Flow]:
    child: dict[str, Any] = {
        "id": CHILD,
        "initialStepId": "square",
        "steps": {
            "square": {"type": "bench.square", "input": {"type": "key", "key": "item"}, "outputKey": "r"}
        },
    }
    step = {
        "type": "map",
        "flow": CHILD,
        "input": {"type": "key", "key": "items"},
        "maxConcurrency": max_concurrency,
        "outputSelector": {"type": "key", "key": "r"},
        "outputKey": "squares",
    }
    parent = {"id": PARENT, "initialStepId": "map", "steps": {"map": step}}
    return [Flow.from_dict(child), Flow.from_dict(parent)]


async def run_map(store: Store, elements: int, max_concurrency: int) -> MapRun:
    """Run one map of ``elements`` to completion; check every output; time it."""
    engine = Engine(store, [_square], flows(max_concurrency))
    async with Runtime(engine, concurrency=max_concurrency):
        started = time.perf_counter()
        execution, _ = await engine.create(PARENT, {"items": list(range(elements))})
        done = await _until_terminal(store, execution.id)
        seconds = time.perf_counter() - started
    if done.status is not ExecutionStatus.COMPLETED or done.context["squares"] != [
        i * i for i in range(elements)
    ]:
        raise BenchmarkMapError(
            f"the benchmark map {execution.id} ended {done.status.value}, not with every square"
        )
    history = await store.history(execution.id)
    runs = sum(1 for record in history if record.outcome in (StepStatus.WAITING, StepStatus.COMPLETED))
    return MapRun(
        elements=elements,
        max_concurrency=max_concurrency,
        seconds=round(seconds, 4),
        children_per_s=round(elements / seconds, 1),
        parent_runs=runs,
    )


async def _until_terminal(store: Store, execution_id: str) -> Any:
    """Poll (no event subscriber: one would make every step publish events)."""
    while True:
        execution = await store.get_execution(execution_id)
        if execution is not None and execution.is_terminal:
            return execution
        await asyncio.sleep(0.01)


def describe(r: MapRun) -> str:
    return "\n".join(
        [
            f"scenario      map: {r.elements} elements, one child execution each, {r.max_concurrency} at once,"
            " one in-process worker",
            f"time          {r.seconds:.3f} s (create to the parent's completion)",
            f"throughput    {r.children_per_s:,.0f} children/s",
            f"parent runs   {r.parent_runs} (woken by the fan-in, not once per child)",
        ]
    )
