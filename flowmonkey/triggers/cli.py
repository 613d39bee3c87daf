"""``flowmonkey emit NAME [--data JSON]``: publish a named event from the command line.

The command opens the store, finds the enabled event triggers listening for ``NAME`` and
creates their executions itself; workers sharing the store run them. It needs no flow
files: each trigger remembers the hash of the definition it starts, which the store keeps.

Exit codes: 0 when every listening flow started (or none listens), 1 when one failed,
2 on bad usage (e.g. ``--data`` that is not JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from flowmonkey.engine import Engine
from flowmonkey.errors import FlowMonkeyError
from flowmonkey.registry import FlowRegistry
from flowmonkey.stores import DEFAULT_STORE_URL, Store, open_store
from flowmonkey.triggers.config import FLOW_HASH_KEY
from flowmonkey.triggers.events import listeners
from flowmonkey.triggers.outcomes import FireOutcome, FireStatus
from flowmonkey.triggers.service import TriggerService


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add ``emit``'s arguments to ``parser`` (options the main parser already has are kept)."""
    parser.add_argument("name", help="the event name, e.g. order.created")
    parser.add_argument("--data", default="{}", help="the payload as JSON (default: {})")
    parser.add_argument("--idempotency-key", default=None, help="emit at most once per key and flow")
    _add_shared(parser, "--store", help="store URL (default: $FLOWMONKEY_STORE or SQLite)")
    _add_shared(parser, "--json", action="store_true", help="print the result as JSON")


def _add_shared(parser: argparse.ArgumentParser, flag: str, **options: Any) -> None:
    # SUPPRESS: an unset option must not overwrite what a parent parser already parsed.
    with contextlib.suppress(argparse.ArgumentError):  # the parser already has it
        parser.add_argument(flag, default=argparse.SUPPRESS, **options)


def run(args: argparse.Namespace) -> int:
    """Run ``flowmonkey emit``; returns the exit code."""
    try:
        payload = json.loads(args.data)
    except json.JSONDecodeError as exc:
        print(f"error: --data is not valid JSON: {exc}", file=sys.stderr)
        return 2
    url = getattr(args, "store", None) or os.environ.get("FLOWMONKEY_STORE") or DEFAULT_STORE_URL
    try:
        outcomes = asyncio.run(emit_from_store(url, args.name, payload, idempotency_key=args.idempotency_key))
    except FlowMonkeyError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    _report(args.name, outcomes, as_json=bool(getattr(args, "json", False)))
    return 0 if all(o.status is FireStatus.OK for o in outcomes) else 1


async def emit_from_store(
    url: str | Store, name: str, payload: Any, *, idempotency_key: str | None = None
) -> list[FireOutcome]:
    """Start every flow listening for event ``name``, using only what the store holds."""
    store = open_store(url) if isinstance(url, str) else url
    await store.open()
    try:
        engine = Engine(store, flows=await _stored_flows(store, name, payload))
        service = TriggerService(store, engine, schedule=None, sync_flows=False)
        return await service.emit(name, payload, idempotency_key=idempotency_key)
    finally:
        if isinstance(url, str):
            await store.close()


async def _stored_flows(store: Store, name: str, payload: Any) -> FlowRegistry:
    registry = FlowRegistry()
    for trigger in listeners(await store.list_triggers(), name, payload):
        flow_hash = trigger.config.get(FLOW_HASH_KEY)
        flow = await store.get_definition(str(flow_hash)) if flow_hash else None
        if flow is not None:
            registry.register(flow)
    return registry


def _report(name: str, outcomes: list[FireOutcome], *, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "trigger": o.trigger_id,
                "status": o.status.value,
                "executionId": o.execution_id,
                "created": o.created,
                "error": o.error,
            }
            for o in outcomes
        ]
        print(json.dumps({"event": name, "started": rows}, indent=2))
        return
    if not outcomes:
        print(f"no enabled trigger listens for event {name!r}")
    for o in outcomes:
        if o.status is FireStatus.OK:
            note = "" if o.created else " (already started with this idempotency key)"
            print(f"{o.trigger_id}: started execution {o.execution_id}{note}")
        else:
            print(f"{o.trigger_id}: {o.status.value}: {o.error}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """``python -m flowmonkey.triggers.cli NAME --data JSON`` (same as ``flowmonkey emit``)."""
    parser = argparse.ArgumentParser(prog="flowmonkey emit", description="Publish a named event.")
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
