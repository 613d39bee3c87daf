"""The ``flowmonkey`` argument parser: one subcommand per command, and the delegated ones
(worker, bench, emit) configured by their own modules, imported only when used."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from flowmonkey.cli.executions import cmd_cancel, cmd_list, cmd_show
from flowmonkey.cli.running import cmd_resume, cmd_run
from flowmonkey.cli.validate import cmd_validate
from flowmonkey.cliopts import add_store_and_flows
from flowmonkey.durations import parse_duration
from flowmonkey.model import ExecutionStatus

# Subcommands implemented in their own modules, imported only when used.
DELEGATED = {
    "worker": ("flowmonkey.worker", "run executions headless (claims work, wakes timers, fires triggers)"),
    "bench": ("flowmonkey.bench", "measure steps per second on a store"),
    "emit": ("flowmonkey.emit", "emit an event that starts the flows listening for it"),
    "prune": ("flowmonkey.cli.prune", "delete finished executions older than a retention (default 30d)"),
}

MAX_WAIT_HELP = "with --wait: the longest timer to sleep over in-process (default 5m)"


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``selected`` names a delegated subcommand to configure."""
    parser = argparse.ArgumentParser(prog="flowmonkey", description="FlowMonkey: durable workflows.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_flow_commands(subparsers)
    _add_execution_commands(subparsers)
    for name, (module_name, help_text) in DELEGATED.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            module = importlib.import_module(module_name)
            module.configure_parser(sub)
            sub.set_defaults(module=module)
    return parser


def _add_flow_commands(subparsers: Any) -> None:
    validate = _add(subparsers, "validate", "check every flow file and handler module", cmd_validate)
    validate.add_argument("directory", nargs="?", help="the flows directory (default: --flows)")
    validate.add_argument(
        "--no-code",
        action="store_true",
        help="check the flow files only: import no *.py handler module (their code does not run; "
        "the configs of their steps are not checked)",
    )
    run = _add(subparsers, "run", "start an execution of a flow", cmd_run)
    run.add_argument("flow", help="the flow id")
    run.add_argument("--input", default="{}", help="the initial context: JSON or @file.json")
    run.add_argument("--version", default=None, help="a flow version (default: the latest)")
    run.add_argument("--idempotency-key", default=None, help="start at most once per key")
    run.add_argument(
        "--wait", action="store_true", help="run it here until it finishes or waits for a person"
    )
    run.add_argument("--max-wait", type=_seconds, default=300.0, help=MAX_WAIT_HELP)


def _add_execution_commands(subparsers: Any) -> None:
    listing = _add(subparsers, "list", "list executions, newest first", cmd_list)
    listing.add_argument("--status", choices=[s.value for s in ExecutionStatus], default=None)
    listing.add_argument("--flow", default=None, help="only this flow id")
    listing.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")
    show = _add(subparsers, "show", "show an execution and its step history", cmd_show)
    show.add_argument("id", help="the execution id")
    resume = _add(subparsers, "resume", "resume a waiting execution", cmd_resume)
    resume.add_argument("id", help="the execution id")
    resume.add_argument("--data", default="null", help="the step's output: JSON or @file.json")
    resume.add_argument("--wait", action="store_true", help="run it on here until it finishes or waits")
    resume.add_argument("--max-wait", type=_seconds, default=300.0, help=MAX_WAIT_HELP)
    cancel = _add(subparsers, "cancel", "cancel an execution (and its children)", cmd_cancel)
    cancel.add_argument("id", help="the execution id")
    cancel.add_argument("--reason", default=None, help="why, for the record")


def _add(subparsers: Any, name: str, help_text: str, handler: Callable[..., Any]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
    add_store_and_flows(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(handler=handler)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        return parse_duration(text, where="--max-wait").total_seconds()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
