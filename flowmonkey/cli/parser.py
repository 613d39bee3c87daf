"""The ``flowmonkey`` argument parser: one subcommand per command, and the delegated ones
(worker, bench, emit) configured by their own modules, imported only when used."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any, NoReturn

from flowmonkey import __version__
from flowmonkey.cli.bulk import by_filter, cmd_migrate
from flowmonkey.cli.common import UsageError
from flowmonkey.cli.executions import cmd_cancel, cmd_list, cmd_show
from flowmonkey.cli.flows import cmd_flows
from flowmonkey.cli.repairs import cmd_fail, cmd_fork, cmd_retry, cmd_skip
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


class Parser(argparse.ArgumentParser):
    """Usage errors raise :class:`UsageError` (printed as JSON with ``--json``), exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``selected`` names a delegated subcommand to configure."""
    parser = Parser(prog="flowmonkey", description="FlowMonkey: durable workflows.")
    parser.add_argument("--version", action="version", version=f"flowmonkey {__version__}")
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
    resume = _add(subparsers, "resume", "resume a waiting execution", by_filter(cmd_resume, "resume"))
    resume.add_argument("id", nargs="?", help="the execution id (or --filter)")
    _add_bulk(resume)
    resume.add_argument("--data", default="null", help="the step's output: JSON or @file.json")
    _add_wait(resume)
    cancel = _add(
        subparsers, "cancel", "cancel an execution (and its children)", by_filter(cmd_cancel, "cancel")
    )
    cancel.add_argument("id", nargs="?", help="the execution id (or --filter)")
    cancel.add_argument("--reason", default=None, help="why, for the record")
    _add_bulk(cancel)
    _add_repair_commands(subparsers)


def _add_repair_commands(subparsers: Any) -> None:
    retry = _add(
        subparsers,
        "retry",
        "continue a failed, cancelled or held execution from its step",
        by_filter(cmd_retry, "retry"),
    )
    retry.add_argument("id", nargs="?", help="the execution id (or --filter)")
    _add_wait(retry)
    _add_bulk(retry)
    skip = _add(subparsers, "skip", "give a held step an output and go on (onSuccess)", cmd_skip)
    skip.add_argument("id", help="the execution id")
    skip.add_argument("--output", required=True, help="the step's output: JSON or @file.json")
    _add_wait(skip)
    failing = _add(subparsers, "fail", "fail a held step (its onFailure applies)", cmd_fail)
    failing.add_argument("id", help="the execution id")
    _add_wait(failing)
    fork = _add(subparsers, "fork", "start a new execution at a step of another, with its context", cmd_fork)
    fork.add_argument("id", help="the execution to fork")
    fork.add_argument("--from", dest="step", required=True, help="the step to start at")
    fork.add_argument("--visit", type=_positive, default=None, help="which visit of it (default: the last)")
    fork.add_argument(
        "--context",
        default=None,
        help="the context to start with: JSON or @file.json (default: the context as it was before the step)",
    )
    fork.add_argument(
        "--definition",
        choices=("pinned", "live"),
        default="pinned",
        help="the origin's definition (pinned, default) or the flow's live one",
    )
    _add_wait(fork)
    migrate = _add(subparsers, "migrate", "move executions to another definition of their flow", cmd_migrate)
    migrate.add_argument("--flow", required=True, help="the flow id")
    migrate.add_argument("--to", required=True, help="live, a version, or a definition hash")
    _add_bulk(migrate)
    _add(subparsers, "flows", "the flows of the directory and the store, with their executions", cmd_flows)


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="run it on here until it finishes or waits")
    parser.add_argument("--max-wait", type=_seconds, default=300.0, help=MAX_WAIT_HELP)


def _add_bulk(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--filter",
        default=None,
        help="every execution this filter matches, e.g. "
        "'status:failed flow:order since:1h' (all pages; frozen at the preview)",
    )
    parser.add_argument("--dry-run", action="store_true", help="show what the filter matches, change nothing")
    parser.add_argument("--yes", action="store_true", help="do not ask to type the count (for scripts)")


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
