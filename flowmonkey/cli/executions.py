"""``flowmonkey list``, ``show`` and ``cancel``: look at executions, and stop one."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from flowmonkey.cli.common import FAILED, OK, signalling, with_store
from flowmonkey.cli.output import fail, out, print_json, print_summary, status_text
from flowmonkey.defaults import Engine
from flowmonkey.model import ExecutionStatus, StepRecord
from flowmonkey.stores import ExecutionQuery, Store


async def cmd_list(args: argparse.Namespace) -> int:
    query = ExecutionQuery(statuses=(ExecutionStatus(args.status),) if args.status else (), flow_id=args.flow)

    async def work(store: Store) -> int:
        page = await store.list_executions(query, limit=args.limit)
        if args.json:
            print_json([e.to_dict() for e in page.items])
            return OK
        table = Table("ID", "FLOW", "VER", "STATUS", "STEP", "UPDATED", box=None)
        for column in table.columns:
            column.no_wrap = True
        for e in page.items:
            table.add_row(
                e.id,
                escape(e.flow_id),
                escape(e.flow_version),
                status_text(e.status),
                escape(e.current_step_id or "—") if not e.is_terminal else "—",
                f"{e.updated_at:%m-%d %H:%M}",
            )
        out.print(table if page.items else "no executions")
        return OK

    return await with_store(args.store, work)


async def cmd_show(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        execution = await store.get_execution(args.id)
        if execution is None:
            fail(args, f"no execution {args.id!r}", code="EXECUTION_NOT_FOUND")
            return FAILED
        history = await store.history(args.id)
        if args.json:
            print_json({"execution": execution.to_dict(), "history": [r.to_dict() for r in history]})
            return OK
        out.print(f"{execution.id}  {escape(execution.flow_id)} {escape(execution.flow_version)}")
        out.print(f"created  {execution.created_at.isoformat()}  updated {execution.updated_at.isoformat()}")
        print_summary(execution)
        out.print(_timeline(history))
        return OK

    return await with_store(args.store, work)


def _timeline(history: list[StepRecord]) -> Table:
    table = Table("#", "STEP", "TRY", "OUTCOME", "MS", "NEXT", "DETAIL", box=None, title="history")
    for record in history:
        detail = record.error.code + ": " + record.error.message if record.error else (record.note or "")
        table.add_row(
            str(record.sequence),
            escape(record.step_id or "—"),
            str(record.attempt),
            record.outcome.value,
            f"{record.duration_ms:.1f}",
            escape(record.next_step_id or "—"),
            escape(detail),
        )
    return table


async def cmd_cancel(args: argparse.Namespace) -> int:

    async def work(store: Store) -> int:
        engine = Engine(store)
        async with signalling(engine, args.store):
            result = await engine.cancel(args.id, source="cli", reason=args.reason)
        if not result.cancelled:
            fail(args, result.error or "not cancelled", code="NOT_CANCELLABLE", details={"id": args.id})
        elif args.json:
            print_json(
                {
                    "cancelled": True,
                    "id": args.id,
                    "previous_status": result.previous_status,
                    "children_cancelled": result.children_cancelled,
                }
            )
        else:
            children = f" and {result.children_cancelled} child(ren)" if result.children_cancelled else ""
            out.print(f"{status_text(ExecutionStatus.CANCELLED)} {args.id}{children}")
        return OK if result.cancelled else FAILED

    return await with_store(args.store, work)
