"""Helpers for the runtime's integration tests: a database per test, flow files, workers."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import asyncpg
import yaml

from flowmonkey import ExecutionQuery, Store
from flowmonkey.model import ACTIVE_STATUSES

ROOT = Path(__file__).resolve().parents[2]


def ten_steps(flow_id: str = "ten", steps: int = 10) -> dict[str, object]:
    names = [f"s{i}" for i in range(steps)]
    return {
        "id": flow_id,
        "version": "1.0.0",
        "initialStepId": names[0],
        "steps": {
            name: {
                "type": "transform",
                "input": {"type": "static", "value": {"n": i}},
                "outputKey": f"out.{name}",
                "transitions": {"onSuccess": names[i + 1] if i + 1 < steps else None},
            }
            for i, name in enumerate(names)
        },
    }


def timer_flow(seconds: float) -> dict[str, object]:
    return {
        "id": f"timer-{seconds:g}".replace(".", "-"),
        "version": "1.0.0",
        "initialStepId": "sleep",
        "steps": {
            "sleep": {
                "type": "delay",
                "config": {"duration": seconds},
                "transitions": {"onSuccess": "after"},
            },
            "after": {"type": "transform", "outputKey": "after"},
        },
    }


APPROVAL = {
    "id": "approve",
    "version": "1.0.0",
    "initialStepId": "ask",
    "steps": {
        "ask": {"type": "approval", "outputKey": "decision", "transitions": {"onSuccess": "done"}},
        "done": {"type": "transform", "outputKey": "done"},
    },
}


def write_flows(directory: Path, flows: Sequence[Mapping[str, object]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for flow in flows:
        (directory / f"{flow['id']}.yaml").write_text(yaml.safe_dump(flow, sort_keys=False))
    return directory


@asynccontextmanager
async def fresh_database(dsn: str) -> AsyncIterator[str]:
    """A new, empty database on the server of ``dsn`` (dropped afterwards), so that
    runtimes claim only this test's executions and query counts are this test's."""
    name = f"fm_rt_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parsed = urlparse(dsn)
    try:
        yield urlunparse(parsed._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def last_query_at(dsn: str, database: str) -> list[tuple[int, float]]:
    """(pid, seconds since its last query started) of every session on ``database``."""
    observer = await asyncpg.connect(dsn)
    try:
        rows = await observer.fetch(
            "SELECT pid, extract(epoch FROM now() - query_start)::float8 FROM pg_stat_activity "
            "WHERE datname = $1 AND query_start IS NOT NULL AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await observer.close()
    return [(row[0], row[1]) for row in rows]


SETTLE_S = 0.2
"""How long a frozen worker's last statements get to finish in the database."""


async def claimed_by(store: Store, owner: str, limit: int = 10_000) -> list[str]:
    """The active executions whose lease ``owner`` holds (in a worker's hands)."""
    page = await store.list_executions(ExecutionQuery(statuses=ACTIVE_STATUSES), limit=limit)
    return [e.id for e in page.items if e.lease_owner == owner]


async def kill_holding_claims(
    store: Store, worker: WorkerProcess, owner: str, timeout: float = 30.0
) -> list[str]:
    """SIGKILL ``worker`` (leases of ``owner``) while it holds claims; the executions it
    held. Between a read and a kill, a fast worker can finish what it held, so it is
    frozen (SIGSTOP) first, and its claims are read once the database has finished what
    it had already sent (a COMMIT on the wire still ends executions and frees leases)."""
    deadline = time.monotonic() + timeout
    while True:
        worker.send(signal.SIGSTOP)
        await asyncio.sleep(SETTLE_S)
        held = await claimed_by(store, owner)
        if held:
            worker.kill()
            return held
        worker.send(signal.SIGCONT)
        if time.monotonic() > deadline:
            raise AssertionError(f"{owner} held no claims within {timeout}s")
        await asyncio.sleep(0.01)


async def eventually(check: Callable[[], object], *, timeout: float, every: float = 0.1) -> None:
    """Await ``check()`` (sync or async) until it is truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(every)


class WorkerProcess:
    """``python -m flowmonkey.worker`` in a subprocess, with its log kept in memory."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.env: dict[str, str] = {}
        """Environment variables the process gets on top of this one's."""

    async def start(self, timeout: float = 20.0) -> WorkerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "flowmonkey.worker",
            *self.args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        self._reader = asyncio.create_task(self._read())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise AssertionError("worker did not get ready:\n" + "\n".join(self.lines)) from None
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if " ready: " in line:
                self._ready.set()

    def kill(self) -> None:
        self.send(signal.SIGKILL)

    def send(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, then the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout)
        if self._reader is not None:
            await self._reader
        return code

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
