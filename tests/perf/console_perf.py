"""Measure the console on a big SQLite store (a script for the report, not a timed test).

    .venv/bin/python tests/perf/console_perf.py [--rows 1000000] [--db /tmp/fm-console-perf.db]

1. bulk-inserts ``--rows`` executions (cloned by SQL from one real execution);
2. first paint: from starting the app until the first page of executions is on screen;
3. page change: ``]`` / ``[`` until the new page is on screen (p50 / p95 / max);
4. keystroke latency while the embedded runtime runs a steady load of trivial steps:
   a cursor key until the cursor has moved and is drawn, and a view key (``1``/``2``)
   until the refresh that lays out and draws the other view (p50 / p95);
5. peak memory (max RSS) of the process.

The app runs headless (Textual's Pilot at 80x24): the times include everything up to the
screen update but not a terminal's own drawing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import resource
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App
from textual.errors import NoWidget
from textual.widgets import DataTable

from flowmonkey import Engine, Event, EventType, open_store
from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.backend import Backend
from flowmonkey_console.options import ConsoleOptions
from flowmonkey_console.screens.main import MainScreen
from flowmonkey_console.widgets.execution_list import ExecutionListView
from flowmonkey_console.widgets.view_title import ViewTitle

SPIN_FLOW = """\
id: spin
version: 1.0.0
initialStepId: s1
steps:
{steps}
"""
HANDLERS = """\
from flowmonkey import Result, handler


@handler("noop")
async def noop(params):
    return Result.success(None)
"""
STEPS = 10
STATUSES = ("completed", "completed", "completed", "failed", "waiting", "cancelled")


def flows_dir(root: Path) -> Path:
    flows = root / "flows"
    flows.mkdir(exist_ok=True)
    lines = []
    for n in range(1, STEPS + 1):
        nxt = f"s{n + 1}" if n < STEPS else "null"
        lines.append(f"  s{n}: {{type: noop, transitions: {{onSuccess: {nxt}}}}}")
    (flows / "spin.yaml").write_text(SPIN_FLOW.format(steps="\n".join(lines)))
    (flows / "handlers.py").write_text(HANDLERS)
    return flows


async def seed_template(url: str, flows: Path) -> None:
    """One real execution (and its definition) to clone."""
    from flowmonkey.flowdirectory import FlowDirectory

    async with open_store(url) as store:
        engine = Engine(store)
        await FlowDirectory(flows, engine).load()
        execution, _ = await engine.create("spin", {"n": 0})
        await engine.run(execution.id)


def bulk_insert(path: Path, rows: int) -> float:
    """Clone the template row ``rows`` times with sortable ids and mixed statuses."""
    started = time.perf_counter()
    db = sqlite3.connect(path)
    cursor = db.execute("SELECT * FROM executions LIMIT 1")
    names = [d[0] for d in cursor.description]
    template = list(cursor.fetchone())
    at = {name: names.index(name) for name in ("id", "status", "created_at", "updated_at")}
    base = template[at["created_at"]]
    db.execute("DELETE FROM executions")
    sql = f"INSERT INTO executions ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    chunk = 50_000
    for start in range(0, rows, chunk):
        batch = []
        for n in range(start, min(rows, start + chunk)):
            row = list(template)
            row[at["id"]] = f"01PERF{n:020d}"
            row[at["status"]] = STATUSES[n % len(STATUSES)]
            row[at["created_at"]] = row[at["updated_at"]] = base - (rows - n) * 1000
            batch.append(row)
        db.executemany(sql, batch)
        db.commit()
    db.close()
    return time.perf_counter() - started


async def wait_until(app: App[Any], condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Poll ``condition``, then wait for the screen refresh that draws the change."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.001)
    drawn = asyncio.get_running_loop().create_future()

    def settle() -> None:
        if not drawn.done():
            drawn.set_result(None)

    app.call_after_refresh(settle)
    await drawn


async def displayed(app: App[Any], effect: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait for the first screen update Textual writes once ``effect`` holds: the frame
    that shows it. (``wait_until`` polls, then waits for the refresh *after* the poll,
    which at 60 frames a second is often the one after the frame that drew the change:
    a cursor key measured p50 31 ms that way, 5 ms this way, in the same hour.)"""
    drawn = asyncio.get_running_loop().create_future()
    display = app._display

    def watch(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is not None and not drawn.done() and effect():
            drawn.set_result(None)

    app._display = watch  # type: ignore[method-assign]  # (headless, it writes nothing)
    try:
        await asyncio.wait_for(drawn, timeout)
    finally:
        del app._display


async def keystroke(
    app: App[Any],
    key: str,
    char: str,
    effect: Callable[[], object],
    drawn: Callable[[App[Any], Callable[[], object]], Awaitable[None]] = displayed,
) -> float:
    """Send one key as the terminal driver would; seconds until its effect is drawn.

    (Pilot's ``press`` also waits for the whole process to go idle, which is not what a
    user waits for; the key goes straight to the driver's queue here.)
    """
    started = time.perf_counter()
    event = events.Key(key, char)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)
    await drawn(app, effect)
    return time.perf_counter() - started


async def layout_drawn(app: App[Any], arranged: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait for the screen refresh that lays out and draws what ``arranged`` checks.

    Textual publishes ``screen_layout_refresh_signal`` just after a refresh that arranged
    the screen anew and drew it. (``wait_until`` polls every millisecond and then waits for
    the *next* refresh; a view switch is usually drawn before that poll runs, so it would
    count one more refresh, 17-35 ms later, that draws nothing new.)
    """
    screen = app.screen
    drawn = asyncio.get_running_loop().create_future()

    def check(_: object) -> None:
        if not drawn.done() and arranged():
            drawn.set_result(None)

    screen.screen_layout_refresh_signal.subscribe(app, check, immediate=True)
    try:
        await asyncio.wait_for(drawn, timeout)
    finally:
        screen.screen_layout_refresh_signal.unsubscribe(app)


def first_row_changed(view: ExecutionListView, before: object) -> bool:
    return next(iter(view.rows)) != before


def cursor_moved(table: DataTable[Any], row: int) -> bool:
    return table.cursor_row != row


def shown(screen: MainScreen, view_id: str) -> bool:
    """Whether the compositor has ``view_id`` on screen (and so drew it)."""
    try:
        screen.find_widget(screen.view(view_id))
    except NoWidget:
        return False
    return screen.active_view.id == view_id


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def main_screen(app: App[Any]) -> MainScreen | None:
    try:
        screen = app.screen
    except Exception:  # no screen yet
        return None
    return screen if isinstance(screen, MainScreen) else None


async def measure_paging(url: str, flows: Path) -> None:
    options = ConsoleOptions(store_url=url, flows_dir=flows, worker=False)
    app = ConsoleApp(options, poll_interval=None)
    started = time.perf_counter()
    # run_async, not run_test: Pilot's start-up waits would be counted as the app's.
    running = asyncio.create_task(app.run_async(headless=True, size=(80, 24)))

    def first_page() -> bool:
        screen = main_screen(app)
        return screen is not None and bool(getattr(screen.active_view, "rows", None))

    await wait_until(app, first_page)
    first_paint = time.perf_counter() - started
    screen = main_screen(app)
    assert screen is not None
    view = screen.active_view
    assert isinstance(view, ExecutionListView)
    print(f"first paint (app start -> first page of executions drawn): {first_paint * 1000:.0f} ms")
    await asyncio.sleep(1.0)
    await app.workers.wait_for_complete()
    print(f"  title once counted: {view.query_one(ViewTitle).right}")
    samples = []
    for key, char in [("right_square_bracket", "]")] * 20 + [("left_square_bracket", "[")] * 20:
        before = next(iter(view.rows))
        samples.append(await keystroke(app, key, char, functools.partial(first_row_changed, view, before)))
    print(f"page change ({len(samples)} x ] and [): {percentiles(samples)}")
    app.exit()
    await running


async def load(engine: Engine, per_second: float, stop: asyncio.Event) -> None:
    """Start ``per_second`` executions of the 10-step flow every second."""
    interval = 1.0 / per_second
    next_at = time.perf_counter()
    while not stop.is_set():
        await engine.create("spin", {"n": 1})
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


async def measure_under_load(url: str, flows: Path, steps_per_second: int, seconds: float) -> None:
    options = ConsoleOptions(store_url=url, flows_dir=flows, worker=True)
    store = open_store(url)
    await store.open()
    engine = Engine(store)  # the console's engine: its embedded runtime commits the steps
    committed = 0

    def count(event: Event) -> None:
        nonlocal committed
        committed += 1

    engine.events.subscribe(count, [EventType.STEP_COMPLETED])
    app = ConsoleApp(backend=Backend(engine, options=options, owns_store=True), poll_interval=2.0)
    async with app.run_test(size=(80, 24)):
        await wait_until(app, lambda: isinstance(app.screen, MainScreen))
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_until(app, lambda: screen.backend.worker_label == "on")
        stop = asyncio.Event()
        loader = asyncio.create_task(load(engine, steps_per_second / STEPS, stop))
        await asyncio.sleep(2.0)  # warm up
        steps_before = committed
        t_start = time.perf_counter()
        moves: list[float] = []
        switches: list[float] = []
        while time.perf_counter() - t_start < seconds:
            table = screen.active_view.table
            row = table.cursor_row
            key = "down" if row == 0 else "up"
            moves.append(await keystroke(app, key, "", functools.partial(cursor_moved, table, row)))
            await asyncio.sleep(0.05)
            if len(moves) % 5 == 0:  # now and then a heavier key: switch view and back
                for view_key, view_id in (("1", "flows"), ("2", "executions")):
                    switch = await keystroke(
                        app, view_key, view_key, functools.partial(shown, screen, view_id), layout_drawn
                    )
                    switches.append(switch)
                    await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t_start
        steps = committed - steps_before
        stop.set()
        await loader
        print(f"under load: the runtime committed {steps / elapsed:.0f} steps/s (target {steps_per_second})")
        print(f"  cursor key -> row moved and drawn ({len(moves)} keys): {percentiles(moves)}")
        print(f"  view key (1/2) -> other view drawn ({len(switches)} keys): {percentiles(switches)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "fm-console-perf.db")
    parser.add_argument("--reuse", action="store_true", help="keep an existing database of the right size")
    parser.add_argument("--steps-per-second", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fm-console-perf-"))
    flows = flows_dir(root)
    url = f"sqlite:///{args.db}"
    if not (args.reuse and args.db.exists()):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        asyncio.run(seed_template(url, flows))
        print(f"inserted {args.rows:,} executions in {bulk_insert(args.db, args.rows):.1f} s")
    asyncio.run(measure_paging(url, flows))
    asyncio.run(measure_under_load(url, flows, args.steps_per_second, args.seconds))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
