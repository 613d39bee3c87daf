"""The console's backend: what it embeds with and without a worker, and start-up errors."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from flowmonkey import ExecutionStatus, Runtime, open_store, signaler_for
from flowmonkey.model import TriggerDefinition, TriggerType
from flowmonkey.triggers import sign_resume_token
from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.backend import Backend
from flowmonkey_console.options import ConsoleOptions, parse_options
from tests.console.support import (
    HANDLERS,
    ORDER,
    FrozenClock,
    main_screen,
    make_app,
    make_engine,
    start,
    wait_for,
)


def test_options_default_to_the_documented_values() -> None:
    options = parse_options([])
    assert options == ConsoleOptions(flows_dir=Path("flows"), store_url="sqlite:///.flowmonkey/flowmonkey.db")
    options = parse_options(["--readonly", "--no-worker", "--http", "127.0.0.1:0", "--store", "memory://"])
    assert (options.readonly, options.worker, options.http, options.store_url) == (
        True,
        False,
        ("127.0.0.1", 0),
        "memory://",
    )


async def test_without_a_worker_nothing_runs_here(clock: FrozenClock, tmp_path: Path) -> None:
    engine = make_engine(clock)
    backend = Backend(engine, options=ConsoleOptions(worker=False, flows_dir=tmp_path))
    await backend.start()
    try:
        assert backend.worker_label == "off"  # no embedded runtime
        assert backend.features["triggers"] == "manual"  # fire and pause by hand only
    finally:
        await backend.stop()


def test_the_console_reads_its_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWMONKEY_SECRET", "console-secret")
    assert parse_options([]).secret == "console-secret"
    monkeypatch.delenv("FLOWMONKEY_SECRET")
    assert parse_options([]).secret is None


async def test_the_console_accepts_resume_tokens_signed_with_its_secret(tmp_path: Path) -> None:
    engine = make_engine()
    waiting_id = await start(engine, "process-order")
    waiting = await engine.get(waiting_id)
    assert waiting is not None and waiting.status is ExecutionStatus.WAITING
    options = ConsoleOptions(worker=True, flows_dir=tmp_path, http=("127.0.0.1", 0), secret="console-secret")
    backend = Backend(engine, options=options)
    await backend.start()
    try:
        assert backend.http_url is not None
        step = waiting.current_step_id or ""
        good = sign_resume_token(b"console-secret", waiting_id, step, visit=waiting.visit)
        forged = sign_resume_token(b"another-secret", waiting_id, step, visit=waiting.visit)
        async with httpx.AsyncClient() as client:
            refused = await client.post(
                f"{backend.http_url}/webhooks/resume/{forged}", json={"approved": True}
            )
            accepted = await client.post(
                f"{backend.http_url}/webhooks/resume/{good}", json={"approved": True}
            )
    finally:
        await backend.stop()
    assert refused.status_code == 401 and accepted.status_code == 200, (refused.text, accepted.text)
    resumed = await engine.get(waiting_id)
    assert resumed is not None and resumed.status is not ExecutionStatus.WAITING


async def test_with_a_worker_it_runs_executions_and_serves_webhooks(
    clock: FrozenClock, tmp_path: Path
) -> None:
    engine = make_engine()
    await engine.store.save_trigger(
        TriggerDefinition(
            id="report-hook",
            type=TriggerType.HTTP,
            flow_id="daily-report",
            created_at=clock.now,
            updated_at=clock.now,
        )
    )
    backend = Backend(engine, options=ConsoleOptions(worker=True, flows_dir=tmp_path, http=("127.0.0.1", 0)))
    await backend.start()
    try:
        assert backend.worker_label == "on" and backend.http_url is not None
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{backend.http_url}/webhooks/report-hook", json={"day": "today"})
        assert answer.status_code == 201, answer.text
        execution_id = answer.json()["executionId"]
        deadline = time.monotonic() + 10
        while (execution := await engine.get(execution_id)) is None or not execution.is_terminal:
            assert time.monotonic() < deadline, f"the embedded runtime did not run {execution_id}"
            await asyncio.sleep(0.01)
        assert execution.status is ExecutionStatus.FAILED  # the boom handler ran here
    finally:
        await backend.stop()


async def test_a_bad_store_url_exits_with_a_message() -> None:
    app = ConsoleApp(ConsoleOptions(store_url="bogus://nowhere"), poll_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: not app.is_running, what="the exit")
    assert app.return_code == 1


async def test_the_header_says_when_the_worker_is_up(clock: FrozenClock, tmp_path: Path) -> None:
    app = make_app(make_engine(clock), worker=True, flows_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await main_screen(pilot)
        await wait_for(pilot, lambda: "worker: on" in str(screen.query_one("ConsoleHeader").render()))


async def test_an_observing_console_signals_the_workers_sharing_its_sqlite_store(tmp_path: Path) -> None:
    """A resume from a --no-worker console reaches a worker on the same file at once,
    not at the worker's 60 s re-check."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    async with open_store(url) as worker_store:
        worker_engine = make_engine(store=worker_store)
        waiting_id = await start(worker_engine, "process-order")
        waiting = await worker_engine.get(waiting_id)
        assert waiting is not None and waiting.status is ExecutionStatus.WAITING
        runtime = Runtime(worker_engine, signaler=signaler_for(url), recheck=timedelta(seconds=60))
        async with runtime:
            await runtime.run_until_idle(timeout=10)
            console = await Backend.from_options(
                ConsoleOptions(worker=False, store_url=url, flows_dir=tmp_path),
                handlers=HANDLERS,
                flows=[ORDER],
            )
            steps_before = runtime.stats.steps
            await console.start()
            try:
                assert console.features["signals"] == "on"
                await console.resume([waiting_id], {"approved": True})
                deadline = time.monotonic() + 5  # the re-check would take 60 s
                while runtime.stats.steps == steps_before:
                    assert time.monotonic() < deadline, "the worker did not hear the console's resume"
                    await asyncio.sleep(0.01)
            finally:
                await console.stop()
        done = await worker_engine.get(waiting_id)
        assert done is not None and done.status is ExecutionStatus.COMPLETED
