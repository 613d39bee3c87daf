"""``flowmonkey bench --workers N``: the path a production user runs, measured.

A client process creates the executions (signalling the workers as any ``flowmonkey``
command does) and N real ``flowmonkey worker`` processes claim and run them; this process
only starts them, waits, and reads the result from the store. Every process counts its
store round trips (:mod:`flowmonkey.bench_probe`); the counts of the measured run are
summed. Latency is create → complete as stored (``created_at`` to ``completed_at``, both
stamped by this machine's clock); the run's time is the first create to the last
completion, so that the client's creates are inside it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowmonkey.model import ACTIVE_STATUSES, Execution, ExecutionStatus
from flowmonkey.stores import ExecutionQuery, Store

READY_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 1800.0
POLL_S = 0.02


class BenchmarkError(Exception):
    """A benchmark execution did not complete, or a bench process failed, so the numbers
    would mean nothing. Not a FlowMonkeyError: the library worked; the measurement failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerRun:
    """What one measured run of the worker scenario produced."""

    seconds: float
    latencies: list[float]
    round_trips: int
    cpu_s: float
    sample: Execution


class BenchProcesses:
    """The worker processes of one bench, started together, stopped with SIGTERM."""

    def __init__(
        self,
        directory: Path,
        store_url: str,
        scenario: str,
        workers: int,
        concurrency: int,
        worker_args: Sequence[str] = (),
    ) -> None:
        self.directory, self.store_url, self.scenario = directory, store_url, scenario
        self.worker_args = list(worker_args)
        self.flows = directory / "flows"
        self.count, self.concurrency = workers, concurrency
        self.processes: list[asyncio.subprocess.Process] = []
        self._drains: list[asyncio.Task[None]] = []
        self._runs = 0

    def report(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    async def start(self) -> None:
        args = [
            "--store",
            self.store_url,
            "--flows",
            str(self.flows),
            "--no-watch",
            "--quiet",
            "--no-schedule",
        ]
        for i in range(self.count):
            process = await _probe(
                self.report(f"worker-{i}"),
                "worker",
                [*args, "--concurrency", str(self.concurrency), "--owner", f"bench-{i}"],
                stderr=asyncio.subprocess.PIPE,
            )
            self.processes.append(process)
        async with asyncio.timeout(READY_TIMEOUT_S):
            await asyncio.gather(*(self._ready(p) for p in self.processes))

    async def _ready(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        said: list[bytes] = []
        async for line in process.stderr:
            if b" ready: " in line:
                self._drains.append(asyncio.create_task(_drain(process)))
                return
            said.append(line)
        raise BenchmarkError("a bench worker exited before it was ready: " + b"".join(said[-5:]).decode())

    async def snapshot(self) -> tuple[int, float]:
        """The workers' round trips and CPU seconds so far (each writes them on SIGUSR1)."""
        for i, process in enumerate(self.processes):
            self.report(f"worker-{i}").unlink(missing_ok=True)
            process.send_signal(signal.SIGUSR1)
        reports = [await _read_report(self.report(f"worker-{i}")) for i in range(self.count)]
        return sum(int(r["round_trips"]) for r in reports), sum(float(r["cpu_s"]) for r in reports)

    async def create(self, executions: int, concurrency: int) -> tuple[list[str], int, float]:
        """Run the client: the ids it created, its round trips and CPU seconds."""
        self._runs += 1
        report = self.report(f"client-{self._runs}")
        args = ["--store", self.store_url, "--flows", str(self.flows), "--scenario", self.scenario]
        client = await _probe(
            report, "client", [*args, "--executions", str(executions), "--concurrency", str(concurrency)]
        )
        if await client.wait() != 0:
            raise BenchmarkError("the bench client failed to create its executions")
        data = await _read_report(report)
        return list(data["ids"]), int(data["round_trips"]), float(data["cpu_s"])

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in self.processes))


async def run_with_workers(
    store: Store, processes: BenchProcesses, executions: int, concurrency: int
) -> WorkerRun:
    """Create ``executions`` in the client, wait until the workers completed them all."""
    trips_before, cpu_before = await processes.snapshot()
    ids, client_trips, client_cpu = await processes.create(executions, concurrency)
    finished = await _wait_until_finished(store, ids)
    trips_after, cpu_after = await processes.snapshot()
    started = min(e.created_at for e in finished)
    ended = max(e.completed_at or e.updated_at for e in finished)
    latencies = [((e.completed_at or e.updated_at) - e.created_at).total_seconds() for e in finished]
    failed = [e for e in finished if e.status is not ExecutionStatus.COMPLETED]
    if failed:
        raise BenchmarkError(
            f"benchmark execution {failed[0].id} ended {failed[0].status.value}, not completed"
        )
    return WorkerRun(
        seconds=(ended - started).total_seconds(),
        latencies=latencies,
        round_trips=trips_after - trips_before + client_trips,
        cpu_s=cpu_after - cpu_before + client_cpu,
        sample=finished[-1],
    )


async def _wait_until_finished(store: Store, ids: Sequence[str]) -> list[Execution]:
    """Each execution, read once none of the store's is still active.

    One cheap look per poll (is any execution active?), and the reads after the run: this
    process shares the machine with the workers, and reading each execution until it ended
    cost about 200 us of CPU an execution, mid-run (6% of a 2-core machine)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    active = ExecutionQuery(statuses=ACTIVE_STATUSES)
    while (await store.list_executions(active, limit=1)).items:
        if time.monotonic() > deadline:
            raise BenchmarkError("the benchmark executions did not finish in time")
        await asyncio.sleep(POLL_S)
    finished: list[Execution] = []
    for execution_id in ids:
        execution = await store.get_execution(execution_id)
        if execution is None or not execution.is_terminal:
            raise BenchmarkError(f"benchmark execution {execution_id} did not finish")
        finished.append(execution)
    return finished


async def _probe(
    report: Path, role: str, args: list[str], *, stderr: int | None = None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flowmonkey.bench_probe",
        str(report),
        role,
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
    )


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stderr is not None
    async for _ in process.stderr:
        pass


async def _read_report(path: Path) -> dict[str, Any]:
    """A report file, once its writer has written it whole."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            data = json.loads(await asyncio.to_thread(path.read_text))
        except (FileNotFoundError, json.JSONDecodeError):
            await asyncio.sleep(0.01)
            continue
        assert isinstance(data, dict)
        return data
    raise BenchmarkError(f"no round-trip report from a bench process ({path.name})")
