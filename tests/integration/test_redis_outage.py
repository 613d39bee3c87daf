"""Workers with ``--redis`` survive Redis dying: Redis only cuts wasted work and wake
latency (locks, signals); correctness is the store's. A redis-server of the test's own, on
a spare port, is SIGKILLed mid-run (the shared one is never touched); the workers stay up,
keep stepping without locks, and every execution completes with every step once.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionStatus, Flow, StepStatus, open_store
from tests.integration.runtime_support import (
    WorkerProcess,
    claimed_by,
    eventually,
    fresh_database,
    ten_steps,
    write_flows,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

EXECUTIONS = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own; the test may kill it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                subprocess.run(["sleep", "0.05"], check=True)
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()


async def test_workers_keep_running_and_complete_everything_when_redis_dies(
    own_redis: tuple[str, subprocess.Popen[bytes]], postgres_dsn: str, tmp_path: Path
) -> None:
    redis_url, redis = own_redis
    flows = write_flows(tmp_path / "flows", [ten_steps()])
    async with fresh_database(postgres_dsn) as db, open_store(db) as store:
        engine = Engine(store, flows=[Flow.from_dict(ten_steps())])
        options = (
            "--store",
            db,
            "--flows",
            str(flows),
            "--no-watch",
            "--concurrency",
            "16",
            "--lease",
            "2s",
            "--recheck",
            "1s",
            "--redis",
            redis_url,
        )
        workers = [WorkerProcess(*options, "--owner", f"w{i}") for i in range(2)]
        try:
            # The backlog first: this engine sends no wake, so executions created after the
            # start reached a worker only at its next recheck, and one fast worker could
            # run them all before the other's (CI: w0 ran nothing and never met the outage).
            ids = [(await engine.create("ten", {"i": i})).execution.id for i in range(EXECUTIONS)]
            await asyncio.gather(*(w.start() for w in workers))

            async def completed() -> int:
                return (await store.count_executions())[ExecutionStatus.COMPLETED]

            async def both_busy() -> bool:
                return all([await claimed_by(store, owner) for owner in ("w0", "w1")])

            await eventually(lambda: _at_least(completed, EXECUTIONS // 5), timeout=30, every=0.05)
            await eventually(both_busy, timeout=30, every=0.01)
            redis.send_signal(signal.SIGKILL)  # Redis is gone, mid-run, while both hold work
            redis.wait()
            await eventually(lambda: _at_least(completed, EXECUTIONS), timeout=60, every=0.2)
            codes = [await w.terminate() for w in workers]
        finally:
            for worker in workers:
                await worker.close()
        assert codes == [0, 0], "\n".join(workers[0].lines[-30:])
        for execution_id in ids:
            history = await store.history(execution_id)
            steps = [r.step_id for r in history if r.outcome is not StepStatus.TAKEOVER]
            assert steps == [f"s{i}" for i in range(10)], execution_id
        logs = "\n".join(line for w in workers for line in w.lines)
        assert "Traceback" not in logs, logs[-3000:]
        # Each worker saw Redis go (its next lock failed), and said so once, not per step.
        lost = [sum("lock manager unavailable" in line for line in w.lines) for w in workers]
        assert lost == [1, 1], (lost, logs[-3000:])


async def _at_least(count: Callable[[], Awaitable[int]], target: int) -> bool:
    return await count() >= target
