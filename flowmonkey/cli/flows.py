"""``flowmonkey flows``: the flows of a directory and of the store: each flow's id, its live
version and hash, the file it comes from, and its executions by status (from the store,
flows no longer in the directory included)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape
from rich.table import Table

from flowmonkey.cli.common import OK, load_flows, with_store
from flowmonkey.cli.output import out, print_json
from flowmonkey.defaults import Engine
from flowmonkey.model import ExecutionStatus
from flowmonkey.stores import ExecutionQuery, Store

SHOWN = (
    ExecutionStatus.PENDING,
    ExecutionStatus.RUNNING,
    ExecutionStatus.WAITING,
    ExecutionStatus.HELD,
    ExecutionStatus.COMPLETED,
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
)


async def cmd_flows(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        engine = Engine(store)
        directory = await load_flows(args.flows, engine, quiet=True)
        files = {state.flow_id: state for state in directory.files() if state.flow_id is not None}
        rows = []
        for flow_id in sorted(set(files) | await _stored_flow_ids(store)):
            live = engine.flows.get(flow_id) if flow_id in engine.flows else None
            counts = await store.count_executions(ExecutionQuery(flow_id=flow_id))
            state = files.get(flow_id)
            rows.append(
                {
                    "id": flow_id,
                    "version": live.version if live else None,
                    "hash": live.hash if live else None,
                    "file": str(state.path) if state else None,
                    "file_ok": state.ok if state else None,
                    "executions": {s.value: counts.get(s, 0) for s in SHOWN},
                }
            )
        if args.json:
            print_json({"directory": args.flows, "flows": rows})
        else:
            out.print(_table(rows) if rows else f"no flows in {escape(args.flows)} or the store")
        return OK

    return await with_store(args.store, work)


async def _stored_flow_ids(store: Store) -> set[str]:
    """Flow ids the store has executions of (one listing per flow: keyset by id)."""
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        page = await store.list_executions(ExecutionQuery(), limit=500, cursor=cursor)
        seen.update(e.flow_id for e in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("FLOW", "LIVE", "HASH", "FILE", *(s.value.upper() for s in SHOWN), box=None)
    for row in rows:
        file = row["file"] or "— (store only)"
        if row["file_ok"] is False:
            file += " (broken: the last good version is live)"
        table.add_row(
            escape(row["id"]),
            escape(row["version"] or "—"),
            (row["hash"] or "—")[:12],
            escape(file),
            *(str(row["executions"][s.value]) for s in SHOWN),
        )
    return table
