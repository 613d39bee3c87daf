"""``flowmonkey worker --prune-every``: a worker prunes its store while it runs."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionStatus, Flow, MemoryStore
from flowmonkey.errors import InvalidArgumentError
from flowmonkey.retention import Pruner, RetentionLoop, RetentionPolicy
from flowmonkey.worker import serve
from tests.unit.test_runtime_worker import FLOW, parse


def test_pruning_is_off_unless_asked_and_keeps_30_days_by_default() -> None:
    args = parse("--store", "memory://")
    assert args.prune_every is None and args.retain == timedelta(days=30)
    args = parse("--store", "memory://", "--prune-every", "1h", "--retain", "7d")
    assert (args.prune_every, args.retain) == (timedelta(hours=1), timedelta(days=7))
    with pytest.raises(InvalidArgumentError, match="--prune-every must be a positive duration"):
        RetentionLoop(Pruner(MemoryStore(), RetentionPolicy()), timedelta(0))


async def test_a_worker_prunes_finished_executions_past_its_retention(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hello.json").write_text(json.dumps(FLOW))
    store = MemoryStore()
    engine = Engine(store, flows=[Flow.from_dict(FLOW)])
    finished, _ = await engine.create("hello")
    assert (await engine.run(finished.id)).status is ExecutionStatus.COMPLETED
    waiting = await store.count_executions()
    assert waiting[ExecutionStatus.COMPLETED] == 1
    caplog.set_level(logging.INFO, logger="flowmonkey")
    stop = asyncio.Event()
    args = parse(
        "--store", "memory://", "--flows", str(flows), "--no-watch", "--prune-every", "1h", "--retain", "0s"
    )
    worker = asyncio.create_task(serve(args, stop, store=store))
    deadline = time.monotonic() + 10
    while await store.get_execution(finished.id) is not None:
        assert time.monotonic() < deadline, "the worker did not prune"
        await asyncio.sleep(0.01)
    stop.set()
    assert await asyncio.wait_for(worker, 10) == 0
    assert (
        "retention: completed, failed, cancelled executions kept 0ms after they finish; trigger fires 0ms; pruned every 1h"
        in caplog.text
    )
    assert "retention: deleted 1 execution(s)" in caplog.text
