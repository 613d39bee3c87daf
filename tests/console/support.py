"""Shared pieces of the console tests: handlers, flows, a frozen clock, seeded stores."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from flowmonkey import Change, Engine, Flow, HandlerParams, MemoryStore, Result, StepResult, Store, handler
from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.backend import Backend
from flowmonkey_console.options import ConsoleOptions
from flowmonkey_console.screens.main import MainScreen

T0 = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


class FrozenClock:
    """Stands still unless moved: snapshots show the same times on every run."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@handler("work")
async def work(params: HandlerParams) -> StepResult:
    return Result.success({"done": params.step.id})


@handler("await-approval")
async def await_approval(params: HandlerParams) -> StepResult:
    return Result.wait(reason="needs approval")


@handler("boom")
async def boom(params: HandlerParams) -> StepResult:
    return Result.failure("HTTP_ERROR", "upstream answered 503")


HANDLERS = [work, await_approval, boom]

ORDER = Flow.from_dict(
    {
        "id": "process-order",
        "version": "1.2.0",
        "initialStepId": "validate",
        "steps": {
            "validate": {"type": "work", "outputKey": "validated", "transitions": {"onSuccess": "approve"}},
            "approve": {
                "type": "await-approval",
                "outputKey": "decision",
                "transitions": {"onSuccess": "ship"},
            },
            "ship": {"type": "work", "outputKey": "shipped"},
        },
    }
)
REPORT = Flow.from_dict(
    {
        "id": "daily-report",
        "version": "1.0.0",
        "initialStepId": "fetch",
        "steps": {"fetch": {"type": "boom", "outputKey": "data"}},
    }
)


def make_engine(clock: Callable[[], datetime] | None = None, store: Store | None = None) -> Engine:
    store = store or MemoryStore()
    if clock is None:
        return Engine(store, HANDLERS, [ORDER, REPORT])
    return Engine(store, HANDLERS, [ORDER, REPORT], clock=clock)


def make_app(engine: Engine, *, readonly: bool = False, worker: bool = False, **options: Any) -> ConsoleApp:
    """An app on ``engine``. Without a worker nothing runs in the background by itself."""
    options.setdefault("flows_dir", Path("/nonexistent/flowmonkey-console-tests"))
    console_options = ConsoleOptions(readonly=readonly, worker=worker, **options)
    backend = Backend(engine, options=console_options)
    return ConsoleApp(backend=backend, poll_interval=None, live_clock=False)


async def start(engine: Engine, flow_id: str, context: dict[str, Any] | None = None) -> str:
    """Create an execution and run it until it finishes or waits; returns its id."""
    execution, _ = await engine.create(flow_id, context or {"order": {"id": 1}})
    await engine.run(execution.id)
    return execution.id


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], object], *, timeout: float = 5.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


async def main_screen(pilot: Pilot[Any]) -> MainScreen:
    """Wait until the app shows its main screen, with the first data loaded."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
    screen = app.screen
    assert isinstance(screen, MainScreen)
    await settle(pilot)
    return screen


async def settle(pilot: Pilot[Any]) -> MainScreen:
    """Wait until the active view has loaded and every background load has finished."""
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    await wait_for(pilot, lambda: not screen.active_view.stale, what="the load")
    for worker in list(pilot.app.workers):
        # An exclusive worker a newer one replaced was cancelled: that is not a failure.
        with contextlib.suppress(WorkerCancelled):
            await worker.wait()
    await pilot.pause(0.05)
    return screen


FIXED_IDS = [f"01KCONSOLE{n:016d}" for n in range(1, 40)]


async def seed_fixed(clock: FrozenClock) -> Engine:
    """An engine whose store holds executions with fixed ids, made by really running flows.

    Each execution is run on a scratch engine (random id), then copied with its history
    under a fixed id, so snapshots are the same on every run.
    """
    scratch = make_engine(clock)
    target = make_engine(clock)
    plan = [
        ("daily-report", "fail"),
        ("process-order", "complete"),
        ("process-order", "wait"),
        ("process-order", "cancel"),
        ("daily-report", "fail"),
        ("process-order", "wait"),
        ("process-order", "complete"),
        ("process-order", "wait"),
    ]
    for index, (flow_id, outcome) in enumerate(plan):
        clock.advance(minutes=7)
        original = await start(scratch, flow_id, {"order": {"id": index + 1, "total": 10 * (index + 1)}})
        if outcome == "complete":
            clock.advance(minutes=2)
            await scratch.resume(original, {"approved": True, "by": "ops"})
            await scratch.run(original)
        elif outcome == "cancel":
            await scratch.cancel(original, reason="customer asked")
        await _copy(scratch.store, target.store, original, FIXED_IDS[index], clock.now)
    for flow in (ORDER, REPORT):
        await target.store.save_definition(flow)
    clock.advance(minutes=5)
    return target


# What a step commit may change (everything but identity, lease and revision).
_COMMITTED = (
    "status",
    "current_step_id",
    "context",
    "updated_at",
    "step_count",
    "attempt",
    "completed_at",
    "wake_at",
    "wait_kind",
    "wait_reason",
    "waiting_since",
    "timeout_at",
    "error",
    "cancellation",
    "metadata",
)


async def _copy(source: Store, target: Store, original: str, fixed: str, now: datetime) -> None:
    execution = await source.get_execution(original)
    assert execution is not None
    history = await source.history(original)
    final = replace(execution, id=fixed)
    fields = {name: getattr(final, name) for name in _COMMITTED}
    created = replace(final, revision=0)
    await target.create_execution(created, now=now)
    for number, record in enumerate(history, start=1):
        base = replace(created, revision=number - 1)
        change = Change(base, {**fields, "revision": number}, replace(record, execution_id=fixed))
        await target.commit(change)


def screen_text(app: Any) -> str:
    """The text on the terminal right now, as a user would read it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def background_at(app: Any, needle: str) -> str:
    """The background colour a user sees behind the first character of ``needle``."""
    for strip in app.screen._compositor.render_strips():
        if needle in strip.text:
            column = strip.text.index(needle)
            for segment in strip:
                if column < len(segment.text):
                    return str(segment.style.bgcolor if segment.style else None)
                column -= len(segment.text)
    raise AssertionError(f"{needle!r} is not on the screen")
