"""A real ``flowmonkey worker`` through a PostgreSQL outage and a restart, on a cluster of
the test's own (the shared server is never stopped).

While the database is gone the worker stays up, logs one line when it loses the store and
one when it is back (how long it was gone), at most one line per 10 s in between and never
a traceback, opens few connections (counted by a relay in front of the server), and loses
nothing: every execution completes with every step committed exactly once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from flowmonkey import Engine, ExecutionStatus, Flow, StepStatus
from flowmonkey.stores.postgres import PostgresStore
from tests.conftest import IN_CI
from tests.integration.own_postgres import CountingRelay, OwnCluster, own_cluster, unavailable

pytestmark = pytest.mark.slow

FLOWMONKEY = str(Path(sys.executable).with_name("flowmonkey"))
STEPS = 10
EXECUTIONS = 24
CONCURRENCY = 8
OUTAGE = 10.0

TICKS = {
    "id": "ticks",
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

HANDLERS = """\
import asyncio

from flowmonkey import Result, handler


@handler("tick")
async def tick(params):
    await asyncio.sleep(0.2)  # long enough that steps are in flight when the database goes
    return Result.success({"step": params.step.id})
"""

LOST = re.compile(r"store .*unavailable")
BACK = re.compile(r"store .*available again after (?P<seconds>[\d.]+)s")


@pytest.fixture(scope="module")
def cluster() -> Iterator[OwnCluster]:
    reason = unavailable()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires it")
        pytest.skip(reason)
    with own_cluster() as made:
        yield made


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path  # its stderr: a file, so that a chatty worker never blocks on a full pipe

    def stop(self) -> str:
        """SIGTERM, then what it logged (stderr)."""
        assert self.process.poll() is None, "the worker died"
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        stderr = self.log.read_text()
        assert self.process.returncode == 0, stderr[-3000:]
        return stderr


def start_worker(tmp_path: Path, url: str) -> Worker:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "ticks.yaml").write_text(yaml.safe_dump(TICKS))
    (flows / "handlers.py").write_text(HANDLERS)
    command = [FLOWMONKEY, "worker", "--store", url, "--flows", str(flows), "--quiet", "--no-watch"]
    command += ["--concurrency", str(CONCURRENCY), "--grace", "5s"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "worker.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stderr=stderr, stdout=subprocess.DEVNULL, env=env)
    return Worker(process, log)


async def create_executions(url: str) -> tuple[PostgresStore, list[str]]:
    store = PostgresStore(url, min_size=1, max_size=2)
    await store.open()
    engine = Engine(store, flows=[Flow.from_dict(TICKS)])
    ids = [(await engine.create("ticks", {"n": n}))[0].id for n in range(EXECUTIONS)]
    return store, ids


async def committed_steps(url: str) -> int:
    async with PostgresStore(url, min_size=1, max_size=1) as store:
        executions = (await store.list_executions(limit=500)).items
        return sum([len(await store.history(e.id)) for e in executions])


async def wait_for_steps(url: str, at_least: int, timeout: float) -> float:
    """Polls until ``at_least`` steps are committed; returns when (monotonic)."""
    deadline = time.monotonic() + timeout
    while (done := await committed_steps(url)) < at_least:
        assert time.monotonic() < deadline, f"only {done} of {at_least} steps committed in {timeout}s"
        await asyncio.sleep(0.1)
    return time.monotonic()


async def assert_every_step_committed_once(url: str, ids: list[str]) -> None:
    async with PostgresStore(url, min_size=1, max_size=1) as store:
        for execution_id in ids:
            execution = await store.get_execution(execution_id)
            assert execution is not None and execution.status is ExecutionStatus.COMPLETED, execution
            history = await store.history(execution_id)
            assert [r.step_id for r in history] == [f"s{i}" for i in range(STEPS)], execution_id
            assert [r.sequence for r in history] == list(range(1, STEPS + 1))
            assert all(r.outcome is StepStatus.COMPLETED for r in history)


def outage_lines(stderr: str) -> tuple[list[str], list[str], list[str]]:
    """(lost lines, back lines, every line logged from the first lost to the last back)."""
    lines = stderr.splitlines()
    lost = [line for line in lines if LOST.search(line)]
    back = [line for line in lines if BACK.search(line)]
    first = next((i for i, line in enumerate(lines) if LOST.search(line)), len(lines))
    last = max((i for i, line in enumerate(lines) if BACK.search(line)), default=first)
    return lost, back, lines[first : last + 1]


async def test_a_ten_second_outage_is_two_log_lines_a_few_connections_and_nothing_lost(
    cluster: OwnCluster, tmp_path: Path
) -> None:
    cluster.create_database("outage")
    direct = cluster.url("outage")
    with CountingRelay(cluster.port) as relay:
        store, ids = await create_executions(direct)
        await store.close()
        worker = start_worker(tmp_path, cluster.url("outage", port=relay.port))
        try:
            await wait_for_steps(direct, EXECUTIONS * STEPS // 4, timeout=30)
            cluster.stop()
            down_from = time.monotonic()
            await asyncio.sleep(OUTAGE)  # the outage itself
            down_until = time.monotonic()
            cluster.start()
            up_at = time.monotonic()
            progress = await committed_steps(direct)
            recovered_at = await wait_for_steps(direct, progress + 1, timeout=40)
            await wait_for_steps(direct, EXECUTIONS * STEPS, timeout=40)
        finally:
            stderr = worker.stop()
        attempts = relay.opened_between(down_from, down_until)

    await assert_every_step_committed_once(direct, ids)
    assert "Traceback" not in stderr, stderr[-3000:]
    lost, back, during = outage_lines(stderr)
    assert len(lost) == 1 and len(back) == 1, stderr[-3000:]
    assert len(during) <= 2 + OUTAGE // 10 + 1, during  # lost, back, at most one per 10 s between
    gone = float(BACK.search(back[0])["seconds"])  # type: ignore[index]
    assert OUTAGE - 1 <= gone <= OUTAGE + 31, back[0]
    # One connection per step in flight finds the outage; then the loop's probes, the
    # LISTEN connection's and the pool's own reconnects, each backing off: no hot loop.
    rate = attempts / (down_until - down_from)
    late = relay.opened_between(down_from + OUTAGE / 2, down_until)
    assert attempts <= CONCURRENCY + 20 and late <= 8, f"{attempts} connections, {late} in the second half"
    assert recovered_at - up_at <= 10 + 5, "the next probe comes within the backoff's cap"
    print(  # the numbers, for the record (pytest -s)
        f"\noutage {OUTAGE:g}s: {attempts} connection attempts ({rate:.2f}/s; {late} in the second half), "
        f"recovered {recovered_at - up_at:.1f}s after the server was back; lines: {during}"
    )


async def test_a_restart_loses_nothing_and_logs_no_traceback(cluster: OwnCluster, tmp_path: Path) -> None:
    cluster.create_database("restart")
    url = cluster.url("restart")
    store, ids = await create_executions(url)
    await store.close()
    worker = start_worker(tmp_path, url)
    try:
        await wait_for_steps(url, EXECUTIONS * STEPS // 4, timeout=30)
        cluster.stop()
        cluster.start()
        await wait_for_steps(url, EXECUTIONS * STEPS, timeout=40)
    finally:
        stderr = worker.stop()
    await assert_every_step_committed_once(url, ids)
    assert "Traceback" not in stderr, stderr[-3000:]
    lost, back, during = outage_lines(stderr)
    assert len(lost) == len(back) <= 1, stderr[-3000:]
    assert len(during) <= 2, during
    print(f"\nrestart: {during}")
