"""``flowmonkey worker`` options and life cycle, and the in-process coordination pieces."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowmonkey import Engine, ExecutionStatus, Flow, MemoryStore
from flowmonkey.coordination.batching import MAX_PER_MESSAGE, SignalBatcher, decode, encode
from flowmonkey.coordination.local import LocalLockManager, LocalWakeHub, LocalWakeSignaler
from flowmonkey.jobs import JobRunner
from flowmonkey.worker import configure_parser, run, serve

FLOW = {
    "id": "hello",
    "version": "1.0.0",
    "initialStepId": "a",
    "steps": {
        "a": {"type": "transform", "outputKey": "a", "transitions": {"onSuccess": "b"}},
        "b": {"type": "transform", "outputKey": "b"},
    },
}


async def until_completed(store: MemoryStore, execution_id: str, timeout: float = 5.0) -> None:
    """Poll the store (cheap, in memory) until the execution completed."""
    deadline = time.monotonic() + timeout
    while True:
        found = await store.get_execution(execution_id)
        if found is not None and found.status is ExecutionStatus.COMPLETED:
            return
        assert time.monotonic() < deadline, f"{execution_id} did not complete: {found}"
        await asyncio.sleep(0.01)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(argv)


def test_options_have_defaults_and_durations_are_parsed() -> None:
    args = parse("--store", "memory://", "--lease", "5s", "--concurrency", "3")
    assert args.store == "memory://" and args.concurrency == 3
    assert args.lease == timedelta(seconds=5) and args.recheck == timedelta(seconds=60)
    assert args.redis is None and args.flows == "flows"


@pytest.mark.parametrize("bad", [["--concurrency", "0"], ["--lease", "soon"]])
def test_bad_options_are_usage_errors(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(*bad)
    assert exited.value.code == 2
    assert bad[0] in capsys.readouterr().err


def test_a_missing_flows_directory_fails_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(parse("--store", "memory://", "--flows", str(tmp_path / "nope")))
    assert code == 1
    assert "nope" in capsys.readouterr().err


async def test_the_worker_runs_what_is_in_the_store_and_stops_cleanly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "hello.json").write_text(json.dumps(FLOW))
    store = MemoryStore()  # shared with the worker, as another process would share a database
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="flowmonkey")
    engine = Engine(store, flows=[Flow.from_dict(FLOW)])
    execution, _ = await engine.create("hello")
    args = parse("--store", "memory://", "--flows", str(flows), "--no-watch")
    worker = asyncio.create_task(serve(args, stop, store=store))
    await until_completed(store, execution.id)
    stop.set()
    assert await asyncio.wait_for(worker, 10) == 0
    final = await store.get_execution(execution.id)
    assert final is not None and final.status is ExecutionStatus.COMPLETED and final.lease_owner is None
    logged = caplog.text
    assert f"execution.completed {execution.id} flow=hello" in logged
    assert " ready: " in logged and " stopped after 2 step(s)" in logged


JOBS_MODULE = """
async def shout(ctx):
    return ctx.input.upper()

JOBS = {"shout": shout}
"""


async def test_a_worker_with_jobs_runs_job_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fm_test_jobs.py").write_text(JOBS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    flows = tmp_path / "flows"
    flows.mkdir()
    flow = {
        "id": "loud",
        "initialStepId": "j",
        "steps": {
            "j": {
                "type": "job",
                "config": {"jobType": "shout"},
                "input": {"type": "key", "key": "word"},
                "outputKey": "loud",
            }
        },
    }
    (flows / "loud.json").write_text(json.dumps(flow))
    store = MemoryStore()
    stop = asyncio.Event()
    engine = Engine(store, flows=[Flow.from_dict(flow)])
    JobRunner(engine)  # registers the job step type for this engine
    execution, _ = await engine.create("loud", {"word": "hey"})
    args = parse("--store", "memory://", "--flows", str(flows), "--no-watch", "--jobs", "fm_test_jobs")
    worker = asyncio.create_task(serve(args, stop, store=store))
    await until_completed(store, execution.id)
    stop.set()
    assert await asyncio.wait_for(worker, 10) == 0
    found = await store.get_execution(execution.id)
    assert found is not None and found.context["loud"] == "HEY"


def test_a_jobs_module_without_jobs_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "flows").mkdir()
    code = run(parse("--store", "memory://", "--flows", str(tmp_path / "flows"), "--jobs", "json"))
    assert code == 1 and "no JOBS mapping" in capsys.readouterr().err


# -- coordination in one process ------------------------------------------------------


def test_signals_survive_the_wire_and_senders_do_not_hear_themselves() -> None:
    later = datetime(2030, 5, 1, 12, tzinfo=UTC)
    payload = encode("me", [("a", None), ("b", later)])
    heard: list[tuple[str | None, datetime | None]] = []
    decode(payload, "someone-else", lambda i, w: heard.append((i, w)))
    decode(payload, "me", lambda i, w: heard.append(("echo", None)))
    decode("not json", "me", lambda i, w: heard.append((i, w)))
    assert heard == [("a", None), ("b", later), (None, None)]


async def test_the_batcher_coalesces_and_splits_into_small_messages() -> None:
    sent: list[str] = []

    async def send(payload: str) -> None:
        sent.append(payload)

    batcher = SignalBatcher(send)
    batcher.add("x", None)
    batcher.add("x", datetime(2030, 1, 1, tzinfo=UTC))  # "now" wins over later
    for i in range(MAX_PER_MESSAGE + 5):
        batcher.add(f"e{i}", None)
    batcher.start()
    await batcher.stop()
    entries = [entry for message in sent for entry in json.loads(message)["w"]]
    assert len(sent) == 2 and all(len(m) < 8000 for m in sent)
    assert entries[0] == ["x", None] and len(entries) == MAX_PER_MESSAGE + 6


async def test_local_signals_reach_the_other_runtimes_of_the_process() -> None:
    hub = LocalWakeHub()
    a, b = LocalWakeSignaler(hub), LocalWakeSignaler(hub)
    heard_a: list[str | None] = []
    heard_b = asyncio.Event()
    await a.start(lambda i, _: heard_a.append(i))
    await b.start(lambda i, _: heard_b.set())
    a.notify("e1")
    await asyncio.wait_for(heard_b.wait(), 1)
    await a.stop()
    await b.stop()
    assert heard_a == []


async def test_local_locks_exclude_expire_and_refuse_stale_holders() -> None:
    now = [0.0]
    locks = LocalLockManager(clock=lambda: now[0])
    first = await locks.acquire("k", ttl=10, renew=False)
    assert first is not None and await locks.acquire("k", ttl=10) is None
    now[0] = 11.0  # the holder died: its lock expired
    second = await locks.acquire("k", ttl=10, renew=False)
    assert second is not None and second.fence > first.fence
    assert await first.release() is False and await first.extend() is False and first.lost
    assert await second.release() is True
    await locks.close()


def test_the_signaler_follows_the_deployment() -> None:
    from flowmonkey.coordination import signaler_for
    from flowmonkey.coordination.postgres import PostgresWakeSignaler
    from flowmonkey.coordination.redis import RedisWakeSignaler
    from flowmonkey.coordination.sqlite import SQLiteWakeSignaler

    assert isinstance(signaler_for("postgresql://db/x"), PostgresWakeSignaler)
    assert isinstance(signaler_for("postgresql://db/x", redis="redis://r"), RedisWakeSignaler)
    on_sqlite = signaler_for("sqlite:///data/x.db")
    assert isinstance(on_sqlite, SQLiteWakeSignaler)
    assert on_sqlite.path == Path.cwd() / "data" / "x.db.wake"
    assert signaler_for("sqlite:///:memory:") is None and signaler_for("memory://") is None
