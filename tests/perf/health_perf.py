"""Measure flow health on a store of a million executions (a script for the report, not a test).

    .venv/bin/python tests/perf/health_perf.py [--rows 1000000] [--postgres DSN] [--keep DIR]

1. fills a SQLite file (and with ``--postgres``, a new PostgreSQL database) by bulk SQL:
   ``--rows`` executions of ten flows over 30 days (so about 1,400 in the last hour), most
   completed, some failed, waiting or cancelled, each with one step record;
2. times each flow's ``flow_health`` and ``step_health`` at the store (p50 / max);
3. the Flows view's first paint: the console (headless, 80x24, read-only) is up on its
   first view; ``1`` is sent as a key and the time taken until the Flows view is drawn
   with its ten rows and their health;
4. on PostgreSQL, the same with the health indexes of migration 10 dropped, for comparison
   (SQLite's health queries name their indexes: without them they fail).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowmonkey import open_store
from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.options import ConsoleOptions
from flowmonkey_console.widgets.flows_view import FlowsView
from tests.perf.console_perf import keystroke, main_screen, wait_until

FLOWS = 10
DAYS = 30
NOW = datetime.now(UTC).replace(microsecond=0)
FLOW_FILE = "id: f{n}\nversion: 1.0.0\ninitialStepId: s\nsteps:\n  s: {{type: noop}}\n"
INDEXES = ("executions_flow_created", "executions_flow_completed")

# One statement each: n = 0 .. rows-1; created over DAYS, newest last; status by n.
SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :rows)
INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, current_step_id, context,
    created_at, updated_at, revision, step_count, attempt, completed_at, metadata)
SELECT printf('01PERF%020d', i), 'f' || (i % 10), '1.0.0', 'h' || (i % 10),
    CASE WHEN i % 20 < 16 THEN 'completed' WHEN i % 20 < 18 THEN 'failed'
         WHEN i % 20 = 18 THEN 'waiting' ELSE 'cancelled' END, 's', '{}',
    :now - (:rows - i) * :spacing, :now - (:rows - i) * :spacing, 1, 1, 1,
    CASE WHEN i % 20 = 18 THEN NULL ELSE :now - (:rows - i) * :spacing + (i % 97) * 1000000 END, '{}'
FROM n
"""
SQLITE_RECORDS = """
INSERT INTO step_records (execution_id, sequence, step_id, attempt, outcome, started_at, finished_at)
SELECT id, 1, 's', 1, CASE status WHEN 'failed' THEN 'failed' ELSE 'completed' END,
    created_at, created_at + 1000 * (CAST(substr(id, -3) AS INTEGER) % 250)
FROM executions
"""
POSTGRES_FILL = """
INSERT INTO executions (id, flow_id, flow_version, flow_hash, status, current_step_id, context,
    created_at, updated_at, revision, step_count, attempt, completed_at, metadata)
SELECT 'PERF' || lpad(i::text, 20, '0'), 'f' || (i % 10), '1.0.0', 'h' || (i % 10),
    CASE WHEN i % 20 < 16 THEN 'completed' WHEN i % 20 < 18 THEN 'failed'
         WHEN i % 20 = 18 THEN 'waiting' ELSE 'cancelled' END, 's', '{}',
    $2::timestamptz - ($1::int - i) * $3::interval, $2::timestamptz - ($1::int - i) * $3::interval, 1, 1, 1,
    CASE WHEN i % 20 = 18 THEN NULL ELSE $2::timestamptz - ($1::int - i) * $3::interval + (i % 97) * interval '1 second' END, '{}'
FROM generate_series(0, $1::int - 1) AS i
"""
POSTGRES_RECORDS = """
INSERT INTO step_records (execution_id, sequence, step_id, attempt, outcome, started_at, finished_at)
SELECT id, 1, 's', 1, CASE status WHEN 'failed' THEN 'failed' ELSE 'completed' END,
    created_at, created_at + (right(id, 3)::int % 250) * interval '1 millisecond'
FROM executions
"""


def flows_dir(root: Path) -> Path:
    flows = root / "flows"
    flows.mkdir(exist_ok=True)
    for n in range(FLOWS):
        (flows / f"f{n}.yaml").write_text(FLOW_FILE.format(n=n))
    return flows


async def fill_sqlite(path: Path, rows: int) -> str:
    url = f"sqlite:///{path}"
    async with open_store(url):
        pass  # the schema
    started = time.perf_counter()
    db = sqlite3.connect(path)
    spacing = DAYS * 86_400_000_000 // rows  # microseconds between starts
    now = (NOW - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    db.execute(SQLITE_FILL, {"rows": rows, "now": now, "spacing": spacing})
    db.execute(SQLITE_RECORDS)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    print(f"SQLite: {rows:,} executions and step records in {time.perf_counter() - started:.0f} s")
    return url


async def fill_postgres(dsn: str, rows: int) -> str:
    import asyncpg

    from tests.conftest import _admin, _with_database

    name = f"flowmonkey_perf_{uuid.uuid4().hex[:8]}"
    await _admin(dsn, f'CREATE DATABASE "{name}"')
    url = _with_database(dsn, name)
    async with open_store(url):
        pass
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    await conn.execute(POSTGRES_FILL, rows, NOW, timedelta(seconds=DAYS * 86_400 / rows))
    await conn.execute(POSTGRES_RECORDS)
    await conn.execute("VACUUM ANALYZE executions")
    await conn.execute("VACUUM ANALYZE step_records")
    await conn.close()
    print(
        f"PostgreSQL: {rows:,} executions and step records in {time.perf_counter() - started:.0f} s ({name})"
    )
    return url


async def store_timings(url: str) -> None:
    async with open_store(url, readonly=True) as store:
        for what in ("flow_health", "step_health"):
            samples = []
            for _ in range(3):
                for n in range(FLOWS):
                    started = time.perf_counter()
                    await getattr(store, what)(f"f{n}", since=NOW - timedelta(hours=1), until=NOW)
                    samples.append(time.perf_counter() - started)
            print(
                f"  {what} per flow: p50 {statistics.median(samples) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms"
            )
        health = await store.flow_health("f0", since=NOW - timedelta(hours=1), until=NOW)
        print(
            f"  f0 last hour: {dict(health.finished)}, p95 {health.p95_ms} ms, {sum(health.started_per_minute)} started"
        )


async def settled(app: ConsoleApp) -> None:
    """Until no worker runs (a reload a newer one replaced counts as done)."""
    while any(not worker.is_finished for worker in app.workers):
        await asyncio.sleep(0.01)


async def flows_first_paint(url: str, flows: Path) -> tuple[float, float]:
    """Seconds from the key ``1`` to the Flows view's ten rows drawn (with their counts),
    and to their health drawn as well; the view is emptied first, as on a first visit."""
    options = ConsoleOptions(store_url=url, flows_dir=flows, readonly=True, worker=False)
    app = ConsoleApp(options, poll_interval=None)
    running = asyncio.create_task(app.run_async(headless=True, size=(80, 24)))

    def drawn() -> bool:
        screen = main_screen(app)
        return screen is not None and not screen.active_view.stale

    await wait_until(app, drawn, 120)
    await settled(app)
    await asyncio.sleep(0.5)
    screen = main_screen(app)
    assert screen is not None
    view = screen.query_one(FlowsView)
    await keystroke(app, "2", "2", lambda: screen.active_view is not view)
    await settled(app)
    view.table.clear()
    view._shown, view._health = [], {}

    def rows() -> bool:
        if screen.active_view is not view or view.table.row_count != FLOWS:
            return False
        return all(str(view.table.get_row(f"f{n}")[3]) != "…" for n in range(FLOWS))

    def health() -> bool:
        return rows() and all(str(view.table.get_row(f"f{n}")[6]) != "…" for n in range(FLOWS))

    started = time.perf_counter()
    to_rows = await keystroke(app, "1", "1", rows)
    await wait_until(app, health, 120)
    to_health = time.perf_counter() - started
    assert len(view.table.get_row("f0")) == len(view.COLUMNS)
    app.exit()
    await running
    return to_rows, to_health


def drop_indexes(url: str) -> Any:
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        for index in INDEXES:
            db.execute(f"DROP INDEX {index}")
        db.commit()
        db.close()
        return None
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(url)
        for index in INDEXES:
            await conn.execute(f"DROP INDEX {index}")
        await conn.close()

    return drop()


async def measure(url: str, flows: Path, label: str) -> None:
    print(f"{label}:")
    await store_timings(url)
    paints = [await flows_first_paint(url, flows) for _ in range(3)]
    rows = ", ".join(f"{p[0] * 1000:.0f}" for p in paints)
    health = ", ".join(f"{p[1] * 1000:.0f}" for p in paints)
    print(f"  Flows view first paint (key 1 -> ten rows with their counts drawn): {rows} ms")
    print(f"  ... and their health drawn too: {health} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", metavar="DSN")
    parser.add_argument("--keep", metavar="DIR", help="where the SQLite file goes (default: a temp dir)")
    parser.add_argument("--no-drop", action="store_true", help="skip the run without the indexes")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="fm-health-perf-"))
    flows = flows_dir(root)
    urls = [await fill_sqlite(root / "health.db", args.rows)]
    if args.postgres:
        urls.append(await fill_postgres(args.postgres, args.rows))
    for url in urls:
        kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        await measure(url, flows, f"{kind}, with the migration 10 indexes")
        if not args.no_drop and kind == "PostgreSQL":  # SQLite's queries name their index
            dropped = drop_indexes(url)
            if dropped is not None:
                await dropped
            await measure(url, flows, f"{kind}, the health indexes dropped")


if __name__ == "__main__":
    asyncio.run(main())
