"""Wake signals between processes sharing one SQLite file: the wake file, a worker
subprocess woken by another process's engine, and by the ``flowmonkey`` command."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionStatus, Flow, Store, attach_signaler, open_store, signaler_for
from flowmonkey.coordination import sqlite as sqlite_signals
from flowmonkey.coordination.sqlite import SQLiteWakeSignaler
from tests.integration.runtime_support import ROOT, WorkerProcess, eventually, ten_steps, write_flows

Heard = list[tuple[str | None, datetime | None]]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "flowmonkey.db"


@pytest.fixture
async def store(database: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{database}") as opened:
        yield opened


async def listening(database: Path, heard: Heard) -> SQLiteWakeSignaler:
    signaler = SQLiteWakeSignaler(database)
    await signaler.start(lambda execution_id, wake_at: heard.append((execution_id, wake_at)))
    return signaler


async def test_a_signal_reaches_the_other_signalers_on_the_file_not_its_sender(database: Path) -> None:
    heard: Heard = []
    own: Heard = []
    receiver, sender = await listening(database, heard), await listening(database, own)
    try:
        at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        sender.notify("e1")
        sender.notify("e2", at)
        await eventually(lambda: len(heard) == 2, timeout=5, every=0.01)
    finally:
        await sender.stop()
        await receiver.stop()
    assert sorted(heard, key=str) == [("e1", None), ("e2", at)]
    assert own == []
    assert database.with_name("flowmonkey.db.wake").exists()


async def test_a_listener_that_finds_the_file_emptied_looks_for_work(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_signals, "MAX_BYTES", 300)  # a few lines
    heard: Heard = []
    receiver, sender = await listening(database, heard), await listening(database, [])
    try:
        for n in range(10):
            sender.notify(f"e{n}")
            await eventually(functools.partial(heard.__contains__, (f"e{n}", None)), timeout=5, every=0.01)
        await eventually(lambda: (None, None) in heard, timeout=5, every=0.01)
    finally:
        await sender.stop()
        await receiver.stop()
    assert database.with_name("flowmonkey.db.wake").stat().st_size <= 300 + 200


async def completed(store: Store, execution_id: str) -> bool:
    execution = await store.get_execution(execution_id)
    return execution is not None and execution.status is ExecutionStatus.COMPLETED


async def test_a_worker_on_the_file_runs_what_another_process_creates_at_once(
    database: Path, store: Store, tmp_path: Path
) -> None:
    """Five executions created one after another while the worker is idle (its re-check
    is 60 s): each completes within 1 s, woken through the wake file."""
    url = f"sqlite:///{database}"
    flows = write_flows(tmp_path / "flows", [ten_steps(steps=2)])
    worker = WorkerProcess("--store", url, "--flows", str(flows), "--no-watch", "--recheck", "60s")
    signaler = signaler_for(url)
    assert signaler is not None
    engine = Engine(store, flows=[Flow.from_dict(ten_steps(steps=2))])
    latencies: list[float] = []
    try:
        await worker.start()
        await signaler.start(lambda *_: None)
        attach_signaler(engine, signaler)
        for _ in range(5):
            created_at = time.monotonic()
            execution, _ = await engine.create("ten")
            await eventually(functools.partial(completed, store, execution.id), timeout=5, every=0.005)
            latencies.append(time.monotonic() - created_at)
        await signaler.stop()
        assert await worker.terminate() == 0
    finally:
        await worker.close()
    assert max(latencies) < 1.0, latencies
    assert statistics.median(latencies) < 0.5, latencies
    # Each wake went through the file: none of them is a line in the worker's log.
    assert not [line for line in worker.lines if "change detected" in line], worker.lines


# -- the flowmonkey command -----------------------------------------------------------


async def flowmonkey(*args: str, store_url: str) -> dict[str, object]:
    """Run ``flowmonkey ARGS --json`` on the example flows; its JSON answer."""
    env = {**os.environ, "FLOWMONKEY_STORE": store_url, "FLOWMONKEY_FLOWS": str(ROOT / "flows")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flowmonkey",
        *args,
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    answer: dict[str, object] = json.loads(out)
    return answer


async def test_run_resume_and_cancel_on_the_command_line_wake_a_worker(database: Path, store: Store) -> None:
    url = f"sqlite:///{database}"
    worker = WorkerProcess("--store", url, "--flows", str(ROOT / "flows"), "--no-watch", "--recheck", "60s")
    expense = json.dumps({"expense": {"amount": 12, "reason": "taxi"}})
    try:
        await worker.start()
        greeting = await flowmonkey("run", "greeting", "--input", '{"user": {"name": "Ada"}}', store_url=url)
        await settles(store, str(greeting["id"]), ExecutionStatus.COMPLETED)

        approval = await flowmonkey("run", "expense-approval", "--input", expense, store_url=url)
        await settles(store, str(approval["id"]), ExecutionStatus.WAITING)  # the worker asks
        decision = json.dumps({"approved": True, "by": "ops"})
        await flowmonkey("resume", str(approval["id"]), "--data", decision, store_url=url)
        await settles(store, str(approval["id"]), ExecutionStatus.COMPLETED)

        dropped = await flowmonkey("run", "expense-approval", "--input", expense, store_url=url)
        await settles(store, str(dropped["id"]), ExecutionStatus.WAITING)
        cancelled = await flowmonkey("cancel", str(dropped["id"]), store_url=url)
        assert cancelled["cancelled"] is True
        assert await worker.terminate() == 0
    finally:
        await worker.close()
    final = await store.get_execution(str(approval["id"]))
    assert final is not None and final.context["decision"] == {"approved": True, "by": "ops"}


async def settles(store: Store, execution_id: str, status: ExecutionStatus) -> None:
    """The execution reaches ``status`` within 1 s of the command's exit (the worker's
    re-check is 60 s: only a signal makes it this quick)."""

    async def reached() -> bool:
        execution = await store.get_execution(execution_id)
        return execution is not None and execution.status is status

    await eventually(reached, timeout=1.0, every=0.005)
