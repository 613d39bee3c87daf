"""Measure scale-out on PostgreSQL: steps/s with 1..N worker processes, and the latency
from a resume in one process to the next step in a worker, with and without Redis.

    python -m flowmonkey.bench_scaleout --dsn postgresql://postgres@127.0.0.1/test \\
        [--redis redis://127.0.0.1:6379] [--workers 1,2,3] [--executions 1000] [--resumes 200]

Each measurement runs on a fresh database (created next to the one in ``--dsn``, dropped
afterwards) with real ``python -m flowmonkey.worker`` processes. Throughput is the ten-step
executions' committed steps divided by the time from the first create to the last
completion. Latency is read from the history: the resumed record's time to the start of
the next step, both stamped by the same machine's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from flowmonkey.coordination import WakeSignaler, attach_signaler
from flowmonkey.defaults import Engine
from flowmonkey.model import ExecutionStatus, Flow, StepStatus
from flowmonkey.stores import Store, open_store

TEN_STEPS: dict[str, Any] = {
    "id": "bench-ten",
    "version": "1.0.0",
    "initialStepId": "s0",
    "steps": {
        f"s{i}": {
            "type": "transform",
            "input": {"type": "static", "value": {"n": i}},
            "outputKey": f"s{i}",
            "transitions": {"onSuccess": f"s{i + 1}" if i < 9 else None},
        }
        for i in range(10)
    },
}
APPROVAL: dict[str, Any] = {
    "id": "bench-approve",
    "version": "1.0.0",
    "initialStepId": "ask",
    "steps": {
        "ask": {"type": "approval", "outputKey": "decision", "transitions": {"onSuccess": "done"}},
        "done": {"type": "transform", "outputKey": "done"},
    },
}


@asynccontextmanager
async def fresh_database(dsn: str) -> AsyncIterator[str]:
    """A new empty database next to ``dsn``'s, dropped afterwards."""
    import asyncpg

    name = f"fm_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield urlunparse(urlparse(dsn)._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


class Workers:
    """``python -m flowmonkey.worker`` processes, started together, stopped with SIGTERM."""

    def __init__(self, count: int, args: Sequence[str]) -> None:
        self.count, self.args = count, list(args)
        self.processes: list[asyncio.subprocess.Process] = []
        self._drains: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Workers:
        for i in range(self.count):
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "flowmonkey.worker",
                *self.args,
                "--owner",
                f"bench-{i}",
                stderr=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
            )
            self.processes.append(process)
        await asyncio.gather(*(self._ready(p) for p in self.processes))
        return self

    async def _ready(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            if b" ready: " in line:
                self._drains.append(asyncio.create_task(self._drain(process)))
                return
        raise RuntimeError("a worker exited before it was ready")

    async def _drain(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for _ in process.stderr:
            pass

    async def __aexit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in self.processes))


def _signaler(dsn: str, redis: str | None) -> WakeSignaler:
    if redis:
        from flowmonkey.coordination.redis import RedisWakeSignaler

        return RedisWakeSignaler(redis)
    from flowmonkey.coordination.postgres import PostgresWakeSignaler

    return PostgresWakeSignaler(dsn)


@asynccontextmanager
async def bench_engine(dsn: str, redis: str | None) -> AsyncIterator[tuple[Store, Engine]]:
    """An engine on ``dsn`` whose creates and resumes signal the workers."""
    async with open_store(dsn) as store:
        engine = Engine(store, flows=[Flow.from_dict(TEN_STEPS), Flow.from_dict(APPROVAL)])
        signaler = _signaler(dsn, redis)
        await signaler.start(lambda *_: None)
        attach_signaler(engine, signaler)
        try:
            yield store, engine
        finally:
            await signaler.stop()


def _worker_args(dsn: str, flows: Path, redis: str | None, concurrency: int) -> list[str]:
    args = ["--store", dsn, "--flows", str(flows), "--no-watch", "--quiet", "--concurrency", str(concurrency)]
    return args + (["--redis", redis] if redis else [])


async def throughput(
    dsn: str, flows: Path, workers: int, executions: int, concurrency: int
) -> dict[str, Any]:
    """Steps per second of ``workers`` processes over ``executions`` ten-step runs."""
    async with (
        fresh_database(dsn) as db,
        bench_engine(db, None) as (store, engine),
        Workers(workers, _worker_args(db, flows, None, concurrency)),
    ):
        started = time.perf_counter()
        for batch in range(0, executions, 50):
            count = min(50, executions - batch)
            await asyncio.gather(*(engine.create("bench-ten") for _ in range(count)))
        # Other processes do the work: poll the database (no event to wait on).
        while (await store.count_executions())[ExecutionStatus.COMPLETED] < executions:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    steps = executions * 10
    return {
        "workers": workers,
        "steps": steps,
        "seconds": round(elapsed, 2),
        "steps_per_s": round(steps / elapsed),
    }


async def resume_latency(dsn: str, flows: Path, redis: str | None, resumes: int) -> dict[str, Any]:
    """Resume (this process) to next step start (a worker): p50/p99 in milliseconds."""
    async with (
        fresh_database(dsn) as db,
        bench_engine(db, redis) as (store, engine),
        Workers(2, _worker_args(db, flows, redis, 16)),
    ):
        ids = [(await engine.create("bench-approve")).execution.id for _ in range(resumes)]
        await _until_status(store, ids, ExecutionStatus.WAITING)
        for execution_id in ids:
            await engine.resume(execution_id, {"ok": True})
            await asyncio.sleep(0.01)  # one at a time: the wake path, not a queue
        await _until_status(store, ids, ExecutionStatus.COMPLETED)
        samples = [await _latency_ms(store, i) for i in ids]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "signals": "redis" if redis else "postgres NOTIFY",
        "resumes": resumes,
        "p50_ms": round(statistics.median(samples), 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(max(samples), 1),
    }


async def _until_status(store: Store, ids: list[str], status: ExecutionStatus) -> None:
    deadline = time.monotonic() + 60
    for execution_id in ids:
        while True:
            execution = await store.get_execution(execution_id)
            if execution is not None and execution.status is status:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_id} never became {status.value}")
            await asyncio.sleep(0.02)


async def _latency_ms(store: Store, execution_id: str) -> float:
    history = await store.history(execution_id)
    resumed = next(r for r in history if r.outcome is StepStatus.RESUMED)
    after = next(r for r in history if r.step_id == "done")
    return (after.started_at - resumed.finished_at).total_seconds() * 1000


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        flows = Path(directory)
        for flow in (TEN_STEPS, APPROVAL):
            (flows / f"{flow['id']}.json").write_text(json.dumps(flow))
        results: dict[str, Any] = {"cpus": os.cpu_count(), "throughput": [], "latency": []}
        for count in args.workers:
            results["throughput"].append(
                await throughput(args.dsn, flows, count, args.executions, args.concurrency)
            )
            print(json.dumps(results["throughput"][-1]), file=sys.stderr)
        for redis in [None, args.redis] if args.redis else [None]:
            results["latency"].append(await resume_latency(args.dsn, flows, redis, args.resumes))
            print(json.dumps(results["latency"][-1]), file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flowmonkey.bench_scaleout", description=__doc__)
    parser.add_argument(
        "--dsn",
        default=os.environ.get("FLOWMONKEY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--redis", default=None, help="also measure latency with Redis signals and locks")
    parser.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--resumes", type=int, default=200)
    print(json.dumps(asyncio.run(main_async(parser.parse_args(argv))), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
