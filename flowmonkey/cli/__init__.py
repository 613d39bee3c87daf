"""The ``flowmonkey`` command.

    flowmonkey validate [DIR]
    flowmonkey run FLOW [--input JSON|@file] [--wait]
    flowmonkey list [--status S] [--flow F] [--limit N]
    flowmonkey show ID
    flowmonkey resume ID [--data JSON|@file] [--wait]
    flowmonkey cancel ID [--reason R]
    flowmonkey retry ID | skip ID --output JSON | fail ID [--wait]
    flowmonkey fork ID --from STEP [--context JSON|@file] [--definition live|pinned]
    flowmonkey migrate --flow ID --to live|VERSION|HASH [--filter F] [--dry-run]
    flowmonkey cancel|retry|resume --filter 'status:failed flow:order since:1h' [--dry-run]
    flowmonkey flows
    flowmonkey prune [--older-than 30d] [--status S,...] [--flow F] [--dry-run] [--vacuum]
    flowmonkey worker | bench | emit ...

Each takes ``--store URL`` (env ``FLOWMONKEY_STORE``), ``--flows DIR`` (env
``FLOWMONKEY_FLOWS``) and ``--json``: success objects with stable keys, every error as
``{"error": {"code", "message", "details"}}`` (usage errors too). Exit codes: 0 ok, 1 a reported failure (an invalid
flow, a failed execution, an unknown id), 2 bad usage (a malformed store URL, JSON that
is not strict), or a database newer than this FlowMonkey.

The commands are grouped by what they work on: :mod:`.validate` (flow files),
:mod:`.running` (run, resume), :mod:`.executions` (list, show, cancel). :mod:`.parser`
builds the arguments, :mod:`.common` holds what the commands share (the store, the flows,
wake signals) and :mod:`.output` how they print.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from types import ModuleType

from rich.markup import escape

from flowmonkey.cli.common import FAILED, USAGE, UsageError
from flowmonkey.cli.output import err, fail, print_error_json
from flowmonkey.cli.parser import DELEGATED, build_parser
from flowmonkey.cliopts import refused_store
from flowmonkey.errors import FlowMonkeyError, SchemaVersionError, StoreURLError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args_list
    try:
        return _main(args_list)
    except UsageError as exc:
        _usage(as_json, _selected(args_list), str(exc))
        return USAGE


def _main(args_list: list[str]) -> int:
    selected = _selected(args_list)
    try:
        parser = build_parser(selected if selected in DELEGATED else None)
    except ImportError as exc:
        # Delegated commands load on use (the rest of the CLI starts without their deps).
        raise UsageError(f"cannot load it, a dependency is missing ({exc})") from None
    args = parser.parse_args(args_list)
    if refused := refused_store(args):
        raise UsageError(refused)
    if getattr(args, "module", None) is not None:
        module: ModuleType = args.module
        return int(module.run(args))
    try:
        return int(asyncio.run(args.handler(args)))
    except (SchemaVersionError, StoreURLError) as exc:  # not a failure of the store: fix the call
        raise UsageError(exc.message) from None
    except FlowMonkeyError as exc:
        fail(args, exc.message, code=str(exc.code), details=exc.details)
        return FAILED
    except KeyboardInterrupt:
        return 130  # the shell's convention for SIGINT


def _usage(as_json: bool, command: str | None, message: str) -> None:
    if as_json:
        print_error_json("USAGE", message, {"command": command} if command else None)
    else:
        err.print(f"flowmonkey{' ' + command if command else ''}: {escape(message)}")


def _selected(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)
