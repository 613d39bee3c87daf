"""Crash safety: a worker killed with SIGKILL mid-run loses no step and repeats none.

A child process creates 200 ten-step executions and runs them 20 at a time; the test kills
it (SIGKILL) after a random number of handler calls. This process then opens the same
database, runs every unfinished execution to the end, and checks that each completed
with exactly one history record per step.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter

import pytest

from flowmonkey import Engine, ExecutionStatus, Flow, HandlerParams, Result, StepResult, handler
from flowmonkey.stores import ExecutionQuery, open_store

EXECUTIONS = 200
STEPS = 10
FLOW = {
    "id": "crashy",
    "version": "1.0.0",
    "initialStepId": "s0",
    "steps": {
        f"s{i}": {
            "type": "tick",
            "outputKey": f"out.s{i}",
            "transitions": {"onSuccess": f"s{i + 1}" if i + 1 < STEPS else None},
        }
        for i in range(STEPS)
    },
}

CHILD = f"""
import asyncio, sys
from flowmonkey import Engine, Flow, Result, handler
from flowmonkey.stores import open_store

@handler("tick")
async def tick(params):
    sys.stdout.write("tick\\n")
    sys.stdout.flush()
    return Result.success(params.step.id)

async def main(url):
    async with open_store(url) as store:
        engine = Engine(store, [tick], [Flow.from_dict({FLOW!r})])
        ids = [(await engine.create("crashy", {{"n": i}}))[0].id for i in range({EXECUTIONS})]
        print("created", flush=True)
        queue = iter(ids)
        async def worker():
            for execution_id in queue:
                await engine.run(execution_id)
        await asyncio.gather(*(worker() for _ in range(20)))
        print("finished", flush=True)

asyncio.run(main(sys.argv[1]))
"""


@handler("tick")
async def tick(params: HandlerParams) -> StepResult:
    return Result.success(params.step.id)


async def run_child_until_killed(url: str, ticks: int) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, url, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    try:
        assert await asyncio.wait_for(child.stdout.readline(), 60) == b"created\n"
        for _ in range(ticks):
            line = await asyncio.wait_for(child.stdout.readline(), 60)
            assert line == b"tick\n", f"the child stopped early: {line!r}"
    finally:
        child.kill()  # SIGKILL: no cleanup, no flush, no rollback
        await child.wait()


@pytest.mark.slow
@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_killed_worker_loses_and_repeats_no_step(store_url: str) -> None:
    ticks = random.randint(1, EXECUTIONS * STEPS - 200)
    await run_child_until_killed(store_url, ticks)

    async with open_store(store_url) as store:
        engine = Engine(store, [tick], [Flow.from_dict(FLOW)])
        active = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
        unfinished = await store.list_executions(ExecutionQuery(statuses=active), limit=EXECUTIONS)
        assert unfinished.items, f"killed after {ticks} handler calls, yet nothing was left to do"
        for execution in unfinished.items:
            await engine.run(execution.id)

        counts = await store.count_executions()
        assert counts[ExecutionStatus.COMPLETED] == EXECUTIONS, (ticks, counts)
        everything = await store.list_executions(limit=EXECUTIONS + 1)
        assert len(everything.items) == EXECUTIONS
        for execution in everything.items:
            history = await store.history(execution.id)
            steps = Counter(record.step_id for record in history)
            assert steps == dict.fromkeys((f"s{i}" for i in range(STEPS)), 1), (ticks, execution.id, steps)
            assert [r.sequence for r in history] == list(range(1, STEPS + 1))
            assert execution.context["out"] == {f"s{i}": f"s{i}" for i in range(STEPS)}
