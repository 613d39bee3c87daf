"""Jobs on MemoryStore: a step hands work to a JobRunner, waits, and gets the result."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowmonkey import (
    Engine,
    ExecutionStatus,
    Flow,
    HandlerParams,
    MemoryStore,
    StepConfigError,
    StepResult,
    handler,
)
from flowmonkey.handlers.job import run_job
from flowmonkey.jobs import JobContext, JobFencedError, JobRunner
from flowmonkey.model import JobStatus
from flowmonkey.runtime import Runtime


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def recording(engine: Engine) -> list[str]:
    """The ids of the jobs enqueued through ``engine``, as its events tell them."""
    ids: list[str] = []
    engine.events.subscribe(lambda e: ids.append(e.data["job_id"]), ["job.enqueued"])
    return ids


JOB_FLOW = Flow.from_dict(
    {
        "id": "report",
        "initialStepId": "build",
        "steps": {
            "build": {
                "type": "job",
                "config": {"jobType": "render"},
                "input": {"type": "key", "key": "pages"},
                "outputKey": "report",
            }
        },
    }
)


async def render(ctx: JobContext) -> dict[str, Any]:
    done = ctx.last_checkpoint or 0
    for page in range(done, ctx.input):
        await ctx.checkpoint(page + 1)
    return {"pages": ctx.input}


async def test_a_job_step_waits_for_the_runner_and_succeeds_with_its_result() -> None:
    store = MemoryStore()
    engine = Engine(store, flows=[JOB_FLOW])
    runner = JobRunner(engine, {"render": render})
    finished = asyncio.Event()
    engine.events.subscribe(lambda e: finished.set(), ["execution.completed"])
    async with Runtime(engine, jobs=runner):
        execution, _ = await engine.create("report", {"pages": 3})
        await asyncio.wait_for(finished.wait(), 5)
    final = await store.get_execution(execution.id)
    assert final is not None and final.status is ExecutionStatus.COMPLETED
    assert final.context["report"] == {"pages": 3}
    assert [r.outcome.value for r in await store.history(execution.id)] == ["waiting", "completed"]


async def test_a_failed_job_fails_the_step_with_its_code() -> None:
    async def explode(ctx: JobContext) -> None:
        raise RuntimeError("disk full")

    engine = Engine(MemoryStore(), flows=[JOB_FLOW])
    finished = asyncio.Event()
    engine.events.subscribe(lambda e: finished.set(), ["execution.failed"])
    async with Runtime(engine, jobs=JobRunner(engine, {"render": explode})):
        execution, _ = await engine.create("report", {"pages": 1})
        await asyncio.wait_for(finished.wait(), 5)
    final = await engine.get(execution.id)
    assert final is not None and final.error is not None
    assert final.error.code == "JOB_FAILED" and "disk full" in final.error.message


async def test_an_unknown_job_type_fails_clearly() -> None:
    engine = Engine(MemoryStore(), flows=[JOB_FLOW])
    finished = asyncio.Event()
    engine.events.subscribe(lambda e: finished.set(), ["execution.failed"])
    async with Runtime(engine, jobs=JobRunner(engine)):
        execution, _ = await engine.create("report", {"pages": 1})
        await asyncio.wait_for(finished.wait(), 5)
    final = await engine.get(execution.id)
    assert final is not None and final.error is not None
    assert "no job function registered for type 'render'" in final.error.message


async def test_a_rerun_of_the_step_finds_the_same_job() -> None:
    calls = []

    @handler("hand-off")
    async def hand_off(params: HandlerParams) -> StepResult:
        result = await run_job(params, "render", 2)
        calls.append(result.kind.value)
        return result

    store = MemoryStore()
    flow = Flow.from_dict({"id": "h", "initialStepId": "a", "steps": {"a": {"type": "hand-off"}}})
    engine = Engine(store, [hand_off], [flow])
    runner = JobRunner(engine, {"render": render})
    execution, _ = await engine.create("h")
    await engine.step(execution.id)
    await engine.wake(execution.id)
    await engine.step(execution.id)  # woken early: the job is still pending
    assert await runner.run_once() == 1
    final = await engine.run(execution.id)
    assert calls == ["wait", "wait", "success"] and final.status is ExecutionStatus.COMPLETED


async def test_a_stale_runner_is_fenced_out_and_the_next_one_resumes_from_the_checkpoint() -> None:
    clock = ManualClock()
    store = MemoryStore()
    engine = Engine(store, flows=[JOB_FLOW], clock=clock)
    job_ids = recording(engine)
    stalled = asyncio.Event()
    proceed = asyncio.Event()
    outcome: list[str] = []

    async def stalls(ctx: JobContext) -> dict[str, Any]:
        await ctx.checkpoint(2)
        stalled.set()
        await proceed.wait()  # e.g. a long GC pause: the lease lapses meanwhile
        try:
            await ctx.checkpoint(3)
        except JobFencedError:
            outcome.append("fenced")
            raise
        return {"by": "stale"}

    async def resumes(ctx: JobContext) -> dict[str, Any]:
        outcome.append(f"resumed from {ctx.last_checkpoint}")
        return {"by": "second", "from": ctx.last_checkpoint}

    lease = timedelta(seconds=30)
    first = JobRunner(engine, {"render": stalls}, lease=lease, owner="first")
    second = JobRunner(Engine(store, flows=[JOB_FLOW], clock=clock), {"render": resumes}, lease=lease)
    execution, _ = await engine.create("report", {"pages": 5})
    await engine.step(execution.id)
    stale_run = asyncio.create_task(first.run_once())
    await asyncio.wait_for(stalled.wait(), 5)
    clock.now += timedelta(seconds=31)
    assert await second.run_once() == 1
    proceed.set()
    await stale_run
    jobs = [await store.get_job(job_id) for job_id in job_ids]
    assert outcome == ["resumed from 2", "fenced"]
    (job,) = jobs
    assert job is not None and job.status is JobStatus.COMPLETED and job.fence == 2
    assert job.result == {"by": "second", "from": 2}
    final = await engine.run(execution.id)
    assert final.context["report"] == {"by": "second", "from": 2}


def test_a_job_type_is_required_when_the_flow_is_registered() -> None:
    flow = Flow.from_dict({"id": "bad", "initialStepId": "a", "steps": {"a": {"type": "job", "config": {}}}})
    with pytest.raises(
        StepConfigError, match=r"flow 'bad' 1.0.0: step 'a': config at \$: missing required key \"jobType\""
    ):
        Engine(MemoryStore(), flows=[flow])


@pytest.mark.parametrize("pages", [0, 4])
async def test_checkpoints_are_stored(pages: int) -> None:
    store = MemoryStore()
    engine = Engine(store, flows=[JOB_FLOW])
    job_ids = recording(engine)
    runner = JobRunner(engine, {"render": render})
    execution, _ = await engine.create("report", {"pages": pages})
    await engine.step(execution.id)
    await runner.run_once()
    (job,) = [await store.get_job(job_id) for job_id in job_ids]
    assert job is not None
    assert job.checkpoint == (pages or None) and job.result == {"pages": pages}
