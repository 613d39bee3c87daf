"""Three worker processes share 1,000 ten-step executions on PostgreSQL; one is SIGKILLed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionQuery, ExecutionStatus, Flow, StepStatus, open_store
from flowmonkey.coordination import attach_signaler
from flowmonkey.coordination.postgres import PostgresWakeSignaler
from tests.integration.runtime_support import (
    WorkerProcess,
    eventually,
    fresh_database,
    kill_holding_claims,
    ten_steps,
    write_flows,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXECUTIONS = 1000
STEPS = [f"s{i}" for i in range(10)]


@pytest.mark.parametrize("coordination", ["postgres", "redis"])
async def test_three_workers_complete_every_execution_exactly_once_despite_a_kill(
    coordination: str, postgres_dsn: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    flows = write_flows(tmp_path / "flows", [ten_steps()])
    async with fresh_database(postgres_dsn) as db, open_store(db) as store:
        engine = Engine(store, flows=[Flow.from_dict(ten_steps())])
        signaler = PostgresWakeSignaler(db)
        await signaler.start(lambda *_: None)
        attach_signaler(engine, signaler)
        args = ("--store", db, "--flows", str(flows), "--no-watch", "--quiet")
        options = ["--concurrency", "16", "--lease", "2s", "--recheck", "1s"]
        if coordination == "redis":  # Redis pub/sub and per-execution locks instead of NOTIFY
            options += ["--redis", request.getfixturevalue("redis_url")]
        workers = [WorkerProcess(*args, *options, "--owner", f"w{i}") for i in range(3)]
        try:
            await asyncio.gather(*(w.start() for w in workers))
            # Created 100 at a time, faster than three workers finish them: the backlog keeps
            # every worker's hands full, so the kill below always finds claims to orphan
            # (created one by one, a fast worker could be idle between two creates).
            ids: list[str] = []
            for start in range(0, EXECUTIONS, 100):
                made = await asyncio.gather(
                    *(engine.create("ten", {"i": i}) for i in range(start, start + 100))
                )
                ids.extend(m.execution.id for m in made)

            async def done() -> int:
                return (await store.count_executions())[ExecutionStatus.COMPLETED]

            await eventually(lambda: _at_least(done, EXECUTIONS // 4), timeout=30, every=0.05)
            # Killed with claims in hand (a worker may be between claims at any one moment;
            # CI twice killed one that had just finished what a read a moment before saw).
            orphans = await kill_holding_claims(store, workers[0], "w0")
            await eventually(lambda: _at_least(done, EXECUTIONS), timeout=40, every=0.2)
            codes = [await w.terminate() for w in workers[1:]]
        finally:
            await signaler.stop()
            for worker in workers:
                await worker.close()
        assert codes == [0, 0], "\n".join(workers[1].lines[-20:])
        assert orphans, "the killed worker held no claims: the kill tested nothing"
        lost_notes: list[str] = []
        for execution_id in ids:
            history = await store.history(execution_id)
            steps = [r for r in history if r.outcome is not StepStatus.TAKEOVER]
            assert [r.step_id for r in steps] == STEPS, execution_id  # every step committed once
            assert [r.sequence for r in history] == list(range(1, len(history) + 1)), execution_id
            takeovers = [r for r in history if r.outcome is StepStatus.TAKEOVER]
            lost_notes.extend(r.note or "" for r in takeovers)
        # The killed worker's claims were taken over, visibly (a live worker's lease may
        # lapse too on a loaded machine: that is a takeover as well).
        assert any("worker w0 was lost" in note for note in lost_notes), lost_notes
        assert all(re.search(r"worker w[012] was lost", note) for note in lost_notes), lost_notes
        leftovers = await store.list_executions(ExecutionQuery(), limit=EXECUTIONS + 1)
        assert len(leftovers.items) == EXECUTIONS
        # Gracefully stopped workers release every claim; the killed one could not (its
        # leases lapse, and the executions it held were taken over and completed).
        held = [
            (e.id, e.status.value, e.lease_owner)
            for e in leftovers.items
            if e.lease_owner not in (None, "w0")
        ]
        assert not held, (held, workers[1].lines[-20:], workers[2].lines[-20:])
        worked = [_steps_logged(w.lines) for w in workers[1:]]
        assert all(s > 0 for s in worked), worked  # both survivors shared the work


async def _at_least(count: Callable[[], Awaitable[int]], target: int) -> bool:
    return await count() >= target


def _steps_logged(lines: list[str]) -> int:
    for line in lines:
        if " stopped after " in line:
            return int(line.split(" stopped after ")[1].split(" ")[0])
    return -1
