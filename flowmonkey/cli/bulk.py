"""Bulk by filter: ``flowmonkey cancel|retry|resume --filter '...'`` and ``flowmonkey
migrate``. The set is frozen at the preview (count, first ids); ``--dry-run`` shows it and
stops; otherwise the count is typed to confirm (``--yes`` on a script), and the set is
worked in batches with a progress bar (see :mod:`flowmonkey.bulk`). An interrupted run is
re-run with the same filter: what was done no longer matches, or is refused."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flowmonkey.bulk import (
    Action,
    BulkPreview,
    BulkProgress,
    BulkRun,
    cancel_action,
    migrate_action,
    migration_target,
    preview,
    resume_action,
    retry_action,
)
from flowmonkey.cli.common import (
    FAILED,
    OK,
    UsageError,
    json_arg,
    load_flows,
    operator,
    signalling,
    with_store,
)
from flowmonkey.cli.output import err, out, print_json
from flowmonkey.defaults import Engine
from flowmonkey.filters import FilterError, parse_filter
from flowmonkey.model import ACTIVE_STATUSES, ExecutionStatus, Flow
from flowmonkey.stores import ExecutionQuery, Store

# What each action looks at when the filter names no status.
DEFAULT_STATUSES = {
    "cancel": ACTIVE_STATUSES,
    "retry": (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.HELD),
    "resume": (ExecutionStatus.WAITING,),
    "migrate": ACTIVE_STATUSES,
}
Command = Callable[[argparse.Namespace], Awaitable[int]]
LISTED = 1000  # ids listed in --json output, per kind


def by_filter(one: Command, name: str) -> Command:
    """``one`` for an id, or the bulk action ``name`` for ``--filter`` (one or the other)."""

    async def command(args: argparse.Namespace) -> int:
        if (args.id is None) == (args.filter is None):
            raise UsageError("give an execution id or --filter (every execution it matches), not both")
        return await (cmd_bulk(args, name) if args.filter is not None else one(args))

    return command


async def cmd_bulk(args: argparse.Namespace, name: str) -> int:
    async def work(store: Store) -> int:
        engine = Engine(store)
        await load_flows(args.flows, engine, quiet=True)
        plan = await preview(store, _query(args, engine, name))
        async with signalling(engine, args.store):
            progress = await _confirmed_run(args, store, plan, name, _action(args, engine, name))
        if args.json:
            print_json(_summary(args, name, plan, progress))
        return OK

    return await with_store(args.store, work)


async def cmd_migrate(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        engine = Engine(store)
        await load_flows(args.flows, engine, quiet=True)
        target = await migration_target(engine, args.flow, args.to)
        plan = await preview(store, _query(args, engine, "migrate"))
        if not args.json:
            out.print(
                f"target   {escape(target.id)} {escape(target.version)} {target.hash} (from {escape(args.to)})"
            )
        listing = _Listing(as_json=args.json, dry_run=args.dry_run)
        action = migrate_action(engine, target, operator(), dry_run=args.dry_run)
        async with signalling(engine, args.store):
            progress = await _confirmed_run(args, store, plan, "migrate", action, listing, paced=False)
        if args.json:
            print_json(
                {**_summary(args, "migrate", plan, progress), **_target(target, args.to), **listing.to_dict()}
            )
        return FAILED if listing.refused_count and not args.dry_run else OK

    return await with_store(args.store, work)


def _query(args: argparse.Namespace, engine: Engine, name: str) -> ExecutionQuery:
    try:
        parsed = parse_filter(args.filter or "", flow_ids=[f.id for f in engine.flows.latest()])
    except FilterError as exc:
        raise UsageError(f"--filter: {exc}") from None
    query = parsed.query(engine.now(), statuses=DEFAULT_STATUSES[name])
    if name == "migrate":
        if parsed.flow_id not in (None, args.flow):
            raise UsageError(f"--filter names flow {parsed.flow_id!r}, --flow {args.flow!r}")
        query = ExecutionQuery(
            statuses=query.statuses,
            flow_id=args.flow,
            created_after=query.created_after,
            id_contains=query.id_contains,
        )
    return query


def _action(args: argparse.Namespace, engine: Engine, name: str) -> Action:
    if name == "cancel":
        return cancel_action(engine, operator(), args.reason)
    if name == "retry":
        return retry_action(engine, operator())
    return resume_action(engine, json_arg(args.data, "--data"))


async def _confirmed_run(
    args: argparse.Namespace,
    store: Store,
    plan: BulkPreview,
    name: str,
    action: Action,
    listing: _Listing | None = None,
    *,
    paced: bool | None = None,
) -> BulkProgress:
    if not args.json:
        _print_preview(plan, name)
    dry_preview = args.dry_run and listing is None  # a migration's dry run checks each one
    if dry_preview or plan.count == 0 or (not args.dry_run and not _confirmed(args, plan, name)):
        return BulkProgress(plan.count)
    with _bar(args, plan, name) as bar:
        task = bar.add_task(name, total=plan.count)
        run = BulkRun(
            store,
            plan,
            action,
            paced=name in ("retry", "resume") if paced is None else paced,
            on_progress=lambda p: bar.update(task, completed=p.seen),
            on_item=listing.add if listing is not None else None,
        )
        progress = await run.run()
    if not args.json:
        refused = sum(progress.refused.values())
        verb = "checked" if args.dry_run else "done"
        out.print(f"{verb} {progress.done}, refused {refused} in {progress.seconds:.1f}s")
    return progress


def _print_preview(plan: BulkPreview, name: str) -> None:
    ids = ", ".join(plan.first_ids[:5]) + (" …" if plan.count > 5 else "")
    out.print(f"{name}: {plan.count} execution(s) match" + (f" ({ids})" if plan.first_ids else ""))


def _confirmed(args: argparse.Namespace, plan: BulkPreview, name: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            f"{name} --filter would act on {plan.count} execution(s): pass --yes (see them: --dry-run)"
        )
    answer = input(f"type {plan.count} to {name} them: ").strip()
    if answer != str(plan.count):
        err.print("not confirmed: nothing done")
        return False
    return True


def _bar(args: argparse.Namespace, plan: BulkPreview, name: str) -> Progress:
    return Progress(
        TextColumn(name),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=args.json or plan.count == 0,
        transient=False,
    )


class _Listing:
    """What a migration moves and refuses, printed as it goes (kept up to LISTED for JSON)."""

    def __init__(self, *, as_json: bool, dry_run: bool) -> None:
        self.as_json, self.dry_run = as_json, dry_run
        self.moved: list[str] = []
        self.refused: list[dict[str, str]] = []
        self.refused_count = 0
        self.unchanged = 0

    def add(self, execution_id: str, refusal: str | None) -> None:
        if refusal is not None and refusal.startswith("ON_TARGET"):
            self.unchanged += 1
            return
        if refusal is not None:
            self.refused_count += 1
        if self.as_json:
            if refusal is None and len(self.moved) < LISTED:
                self.moved.append(execution_id)
            elif refusal is not None and len(self.refused) < LISTED:
                self.refused.append({"id": execution_id, "reason": refusal})
            return
        if refusal is None:
            out.print(f"{'moves  ' if self.dry_run else 'moved  '} {execution_id}")
        else:
            out.print(f"refused {execution_id}: {escape(refusal)}")

    def to_dict(self) -> dict[str, Any]:
        return {"moved": self.moved, "refused": self.refused, "unchanged": self.unchanged}


def _summary(
    args: argparse.Namespace, name: str, plan: BulkPreview, progress: BulkProgress
) -> dict[str, Any]:
    return {
        "action": name,
        "filter": args.filter or "",
        "dry_run": args.dry_run,
        "count": plan.count,
        "first_ids": list(plan.first_ids),
        "newest_id": plan.newest_id,
        "result": progress.to_dict(),
    }


def _target(target: Flow, given: str) -> dict[str, Any]:
    return {"target": {"flow_id": target.id, "version": target.version, "hash": target.hash, "given": given}}
