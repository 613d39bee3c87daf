"""``flowmonkey prune``: delete finished executions (and old trigger state) past a retention.

    flowmonkey prune --older-than 30d [--status completed,failed,cancelled] [--flow ID]
                     [--dry-run] [--json] [--vacuum]

Deletes in batches of 1,000 executions per transaction, resting between batches so that
workers on the same store keep their pace; stopped anywhere (Ctrl-C), it is run again
and goes on. What never goes: see :mod:`flowmonkey.stores.retention`. Exit codes: 0 done,
1 the store failed (what was deleted stays deleted), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta

from rich.markup import escape
from rich.table import Table

from flowmonkey.cli.output import err, out, status_text
from flowmonkey.cliopts import add_create, store_url
from flowmonkey.durations import parse_duration
from flowmonkey.errors import FlowMonkeyError, InvalidArgumentError, SchemaVersionError, StoreURLError
from flowmonkey.model import ExecutionStatus
from flowmonkey.retention import BATCH_SIZE, DEFAULT_PAUSE, FINISHED, Pruner, PruneReport, RetentionPolicy
from flowmonkey.stores import open_store


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add ``prune``'s options to ``parser``."""
    parser.add_argument(
        "--older-than",
        type=duration,
        default=timedelta(days=30),
        help="delete executions that finished longer ago than this (default 30d)",
    )
    parser.add_argument(
        "--status",
        type=statuses,
        default=FINISHED,
        help="comma-separated finished statuses to delete (default completed,failed,cancelled)",
    )
    parser.add_argument("--flow", default=None, help="only executions of this flow id (trigger state stays)")
    parser.add_argument(
        "--fires-older-than",
        type=duration,
        default=None,
        help="delete trigger fires and schedule slots older than this (default: --older-than)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would go, by flow and status; change nothing"
    )
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="SQLite: rewrite the file to give all free space back (blocks writers meanwhile)",
    )
    parser.add_argument("--batch-size", type=positive, default=BATCH_SIZE, help="executions per transaction")
    parser.add_argument(
        "--pause",
        type=float,
        default=DEFAULT_PAUSE,
        help="rest after each batch, in multiples of its time (default 4: workers keep their pace)",
    )
    parser.add_argument("--store", default=None, help="store URL (default: $FLOWMONKEY_STORE or SQLite)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_create(parser)


def duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def statuses(text: str) -> tuple[ExecutionStatus, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in {s.value for s in FINISHED}]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected finished statuses ({', '.join(s.value for s in FINISHED)}), got {text!r}"
        )
    return tuple(ExecutionStatus(name) for name in names)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    try:
        policy = RetentionPolicy(
            older_than=args.older_than,
            statuses=args.status,
            flow_id=args.flow,
            fires_older_than=args.fires_older_than,
            batch_size=args.batch_size,
            pause=args.pause,
        )
        report = asyncio.run(_prune(store_url(args.store), policy, args))
    except (InvalidArgumentError, SchemaVersionError, StoreURLError) as exc:
        err.print(f"flowmonkey prune: {escape(exc.message)}")
        return 2
    except FlowMonkeyError as exc:
        err.print(f"flowmonkey prune: {escape(exc.message)} (what was deleted stays deleted; run it again)")
        return 1
    except KeyboardInterrupt:
        err.print("flowmonkey prune: stopped; what was deleted stays deleted (run it again to go on)")
        return 130
    _print(report, policy, args.json)
    return 0


async def _prune(url: str, policy: RetentionPolicy, args: argparse.Namespace) -> PruneReport:
    async with open_store(url) as store:
        return await Pruner(store, policy).prune(dry_run=args.dry_run, vacuum=args.vacuum)


def _print(report: PruneReport, policy: RetentionPolicy, as_json: bool) -> None:
    if as_json:
        print(json.dumps({**report.to_dict(), "retention": policy.describe()}, indent=2))
        return
    if report.executions:
        table = Table("FLOW", "STATUS", "WOULD GO" if report.dry_run else "DELETED", box=None)
        for (flow, status), n in sorted(report.executions.items()):
            table.add_row(escape(flow), status_text(status), str(n))
        out.print(table)
    out.print(escape(report.summary()))
    if report.space:
        out.print(escape(report.space))
