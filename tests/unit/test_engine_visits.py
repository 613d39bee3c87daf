"""Every step visit has its own identity: a flow that loops back to a step visits it anew.

Before, ``params.idempotency_key`` was ``execution:step:attempt`` and the attempt restarts
at 1 on every visit, so approve -> revise -> approve handed the second visit the first
one's key: a sub-flow step found the old child, a job step the old job.
Collected again on SQLite and PostgreSQL by tests/integration/test_engine_on_stores.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flowmonkey import (
    Engine,
    ExecutionQuery,
    ExecutionStatus,
    Flow,
    HandlerParams,
    Result,
    Runtime,
    StepResult,
    Store,
    handler,
)
from flowmonkey.jobs import JobContext, JobRunner

ROUNDS = 3


@handler("revise")
async def revise(params: HandlerParams) -> StepResult:
    """Go back to the step before until it has run ROUNDS times."""
    rounds = params.input.get("rounds", 0) + 1
    return Result.success({"rounds": rounds}, next_step="ask" if rounds < ROUNDS else "done")


@handler("answer")
async def answer(params: HandlerParams) -> StepResult:
    return Result.success({"answered_by": params.execution.id})


@handler("note")
async def note(params: HandlerParams) -> StepResult:
    return Result.success({"key": params.idempotency_key, "visit": params.visit, "delivery": params.delivery})


def _loop(ask: dict[str, Any]) -> Flow:
    return Flow.from_dict(
        {
            "id": "loop",
            "initialStepId": "ask",
            "steps": {
                "ask": {**ask, "outputKey": "answer", "transitions": {"onSuccess": "revise"}},
                "revise": {
                    "type": "revise",
                    "input": {"type": "key", "key": "state"},
                    "outputKey": "state",
                    "transitions": {"onSuccess": "done"},
                },
                "done": {"type": "note", "outputKey": "last"},
            },
        }
    )


CHILD = Flow.from_dict(
    {"id": "child", "initialStepId": "a", "steps": {"a": {"type": "answer", "outputKey": "out"}}}
)


async def test_a_revisited_sub_flow_step_starts_a_new_child_each_visit(store: Store) -> None:
    engine = Engine(
        store, [revise, answer, note], [_loop({"type": "subflow", "config": {"flowId": "child"}}), CHILD]
    )
    execution, _ = await engine.create("loop", {"state": {}})
    done = await engine.run(execution.id)
    assert done.status is ExecutionStatus.COMPLETED and done.context["state"] == {"rounds": ROUNDS}
    children = (await store.list_executions(ExecutionQuery(parent_execution_id=execution.id))).items
    assert len(children) == ROUNDS and len({c.idempotency_key for c in children}) == ROUNDS
    assert all(c.status is ExecutionStatus.COMPLETED and c.parent_step_id == "ask" for c in children)
    history = await store.history(execution.id)
    visits = [r.visit for r in history if r.step_id == "ask" and r.outcome == "completed"]
    assert len(set(visits)) == ROUNDS
    by_key = {c.idempotency_key: c for c in children}
    last = by_key[f"subflow:{execution.id}:ask:{visits[-1]}:1"]  # the last visit's own child
    assert done.context["answer"]["out"] == {"answered_by": last.id}


async def test_a_revisited_job_step_runs_a_new_job_each_visit(store: Store) -> None:
    seen: list[tuple[str, int]] = []
    engine = Engine(store, [revise, note], [_loop({"type": "job", "config": {"jobType": "work"}})])
    runner = JobRunner(engine)

    @runner.job("work")
    async def work(ctx: JobContext) -> dict[str, Any]:
        seen.append((ctx.job.id, ctx.job.visit))
        return {"job": ctx.job.id}

    finished = asyncio.Event()
    engine.events.subscribe(lambda e: finished.set(), ["execution.completed", "execution.failed"])
    execution, _ = await engine.create("loop", {"state": {}})
    async with Runtime(engine, jobs=runner):
        await asyncio.wait_for(finished.wait(), 20)
    final = await engine.get(execution.id)
    assert final is not None and final.status is ExecutionStatus.COMPLETED
    assert (
        len(seen) == ROUNDS and len({job for job, _ in seen}) == len({visit for _, visit in seen}) == ROUNDS
    )
    assert final.context["answer"] == {"job": seen[-1][0]}


async def test_the_idempotency_key_names_the_visit_and_stays_for_the_first(store: Store) -> None:
    flow = Flow.from_dict(
        {
            "id": "keys",
            "initialStepId": "a",
            "steps": {
                "a": {"type": "note", "outputKey": "first", "transitions": {"onSuccess": "b"}},
                "b": {"type": "note", "outputKey": "second"},
            },
        }
    )
    engine = Engine(store, [note], [flow])
    execution, _ = await engine.create("keys")
    done = await engine.run(execution.id)
    assert done.context["first"] == {"key": f"{execution.id}:a:1", "visit": 0, "delivery": 1}
    assert done.context["second"] == {"key": f"{execution.id}:b:1:1", "visit": 1, "delivery": 1}
