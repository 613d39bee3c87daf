"""Store round trips, counted in the process that makes them, for ``flowmonkey bench``.

:func:`count_round_trips` wraps the driver calls a store makes: on PostgreSQL each asyncpg
``Connection`` statement call and each transaction's BEGIN/COMMIT/ROLLBACK (one round trip
to the server each), on SQLite each call handed to the store's database thread (the
same hop a network round trip is to PostgreSQL: a statement, a batch or a commit) and
each one made on the loop's own thread instead (a batch of writes, or a read). A
process counts its own; the bench sums the counts of its client and worker processes.

The bench runs its worker and client processes through this module, so that they count::

    python -m flowmonkey.bench_probe REPORT.json worker --store ... --flows ...
    python -m flowmonkey.bench_probe REPORT.json client --store ... --flows ... --executions N

``worker`` is :mod:`flowmonkey.worker` itself; ``client`` creates executions of the
directory's one flow, ``--concurrency`` at a time, signalling the workers as any
``flowmonkey`` command does. Each writes ``{"round_trips": n, "cpu_s": s, ...}`` (its store
round trips and CPU seconds so far) to REPORT.json on exit
(a worker also on SIGUSR1, so that a bench can count one run of several).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowmonkey.bench_flows import initial_context

ASYNCPG_CALLS = (
    "execute",
    "executemany",
    "fetch",
    "fetchrow",
    "fetchval",
    "fetchmany",
    "copy_records_to_table",
)
TRANSACTION_CALLS = ("start", "commit", "rollback")


class RoundTrips:
    """A running count of driver calls (one per round trip)."""

    def __init__(self) -> None:
        self.count = 0

    def wrap(self, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(call)
        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await call(*args, **kwargs)

        return counted

    def wrap_inline(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """Count a SQLite call made on the loop's thread (not one handed on to a thread)."""

        @functools.wraps(call)
        def counted(*args: Any, **kwargs: Any) -> Any:
            result = call(*args, **kwargs)
            self.count += result is not None and result != (False, None)
            return result

        return counted


@contextmanager
def count_round_trips() -> Iterator[RoundTrips]:
    """Count this process's store round trips meanwhile (the patches are undone after)."""
    import asyncpg.connection
    import asyncpg.transaction

    from flowmonkey.stores._sqlite_inline import Inline
    from flowmonkey.stores._sqlite_thread import Connection as SQLiteConnection

    trips = RoundTrips()
    patched: list[tuple[type, str, Any]] = [
        *((asyncpg.connection.Connection, name, None) for name in ASYNCPG_CALLS),
        *((asyncpg.transaction.Transaction, name, None) for name in TRANSACTION_CALLS),
        (SQLiteConnection, "_submit", None),
    ]
    originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patched]
    for owner, name, original in originals:
        setattr(owner, name, trips.wrap(original))
    for name in ("write", "read"):
        originals.append((Inline, name, Inline.__dict__[name]))
        setattr(Inline, name, trips.wrap_inline(Inline.__dict__[name]))
    try:
        yield trips
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


async def create_executions(
    store_url: str, flows: str, executions: int, concurrency: int, context: dict[str, Any] | None
) -> tuple[list[str], float]:
    """Create ``executions`` executions of the one flow in ``flows`` (signalling workers);
    their ids, in creation order, and the CPU seconds the creates took."""
    from flowmonkey.coordination import attach_signaler, signaler_for
    from flowmonkey.defaults import Engine
    from flowmonkey.flowdirectory import FlowDirectory
    from flowmonkey.stores import open_store

    async with open_store(store_url) as store:
        engine = Engine(store)
        directory = FlowDirectory(flows, engine)
        await directory.load()
        flow_id = next(iter(engine.flows.latest())).id
        signaler = signaler_for(store_url, redis=None)
        if signaler is not None:
            await signaler.start(lambda *_: None)
            attach_signaler(engine, signaler)
        ids: list[str] = []
        cpu = time.process_time()
        try:
            for start in range(0, executions, concurrency):
                count = min(concurrency, executions - start)
                created = await asyncio.gather(*(engine.create(flow_id, context) for _ in range(count)))
                ids.extend(c.execution.id for c in created)
            cpu = time.process_time() - cpu
        finally:
            if signaler is not None:
                await signaler.stop()
    return ids, cpu


def _client(argv: list[str], report: dict[str, Any]) -> int:
    parser = argparse.ArgumentParser(prog="flowmonkey.bench_probe client")
    parser.add_argument("--store", required=True)
    parser.add_argument("--flows", required=True)
    parser.add_argument("--executions", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--scenario", default="steps")
    args = parser.parse_args(argv)
    context = initial_context(args.scenario)
    report["ids"], report["cpu_s"] = asyncio.run(
        create_executions(args.store, args.flows, args.executions, args.concurrency, context)
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or argv[1] not in ("worker", "client"):
        print("usage: python -m flowmonkey.bench_probe REPORT.json worker|client ARGS...", file=sys.stderr)
        return 2
    path, role, rest = Path(argv[0]), argv[1], argv[2:]
    report: dict[str, Any] = {"role": role}
    with count_round_trips() as trips:

        def write_report(*_: object) -> None:
            partial = path.with_suffix(".partial")
            partial.write_text(
                json.dumps({"round_trips": trips.count, "cpu_s": time.process_time(), **report})
            )
            partial.replace(path)

        if role == "worker":
            signal.signal(signal.SIGUSR1, write_report)
            from flowmonkey.worker import main as worker_main

            code = worker_main(rest)
        else:
            code = _client(rest, report)
        write_report()
    return code


if __name__ == "__main__":
    sys.exit(main())
