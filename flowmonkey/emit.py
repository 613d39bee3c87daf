"""``flowmonkey emit NAME [--data JSON]``: publish a named event from the command line.

The command opens the store (``--store``, else ``FLOWMONKEY_STORE``), finds the enabled
event triggers listening for ``NAME`` and creates their executions itself
(:func:`flowmonkey.triggers.emit_from_store`); workers sharing the store run them. It needs
no flow files.

Exit codes: 0 when every listening flow started (or none listens), 1 when one failed,
2 on bad usage (``--data`` that is not strict JSON, a malformed store URL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from flowmonkey import jsonvalues
from flowmonkey.cliopts import store_url
from flowmonkey.errors import FlowMonkeyError, NotJsonError, StoreURLError
from flowmonkey.stores import open_store
from flowmonkey.triggers import FireOutcome, FireStatus, emit_from_store


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add ``emit``'s arguments to ``parser`` (options the main parser already has are kept)."""
    parser.add_argument("name", help="the event name, e.g. order.created")
    parser.add_argument("--data", default="{}", help="the payload as JSON (default: {})")
    parser.add_argument("--idempotency-key", default=None, help="emit at most once per key and flow")
    _add_shared(parser, "--store", help="store URL (default: $FLOWMONKEY_STORE or SQLite)")
    _add_shared(parser, "--json", action="store_true", help="print the result as JSON")
    _add_shared(parser, "--create", action="store_true", help="create the SQLite database if missing")


def _add_shared(parser: argparse.ArgumentParser, flag: str, **options: Any) -> None:
    # SUPPRESS: an unset option must not overwrite what a parent parser already parsed.
    with contextlib.suppress(argparse.ArgumentError):  # the parser already has it
        parser.add_argument(flag, default=argparse.SUPPRESS, **options)


def run(args: argparse.Namespace) -> int:
    """Run ``flowmonkey emit``; returns the exit code."""
    try:
        payload = jsonvalues.loads(args.data, what="--data")
    except json.JSONDecodeError as exc:
        print(f"error: --data is not valid JSON: {exc}", file=sys.stderr)
        return 2
    except NotJsonError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    url = store_url(getattr(args, "store", None))
    try:
        outcomes = asyncio.run(_emit(url, args.name, payload, idempotency_key=args.idempotency_key))
    except StoreURLError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except FlowMonkeyError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    _report(args.name, outcomes, as_json=bool(getattr(args, "json", False)))
    return 0 if all(o.status is FireStatus.OK for o in outcomes) else 1


async def _emit(url: str, name: str, payload: Any, *, idempotency_key: str | None) -> list[FireOutcome]:
    async with open_store(url) as store:
        return await emit_from_store(store, name, payload, idempotency_key=idempotency_key)


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
    """``python -m flowmonkey.emit NAME --data JSON`` (same as ``flowmonkey emit``)."""
    parser = argparse.ArgumentParser(prog="flowmonkey emit", description="Publish a named event.")
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
