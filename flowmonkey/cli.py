"""The ``flowmonkey`` command.

    flowmonkey validate [DIR]
    flowmonkey run FLOW [--input JSON|@file] [--wait]
    flowmonkey list [--status S] [--flow F] [--limit N]
    flowmonkey show ID
    flowmonkey resume ID [--data JSON|@file] [--wait]
    flowmonkey cancel ID [--reason R]
    flowmonkey worker | bench | emit ...

Each takes ``--store URL`` (env ``FLOWMONKEY_STORE``), ``--flows DIR`` (env
``FLOWMONKEY_FLOWS``) and ``--json``. Exit codes: 0 ok, 1 a reported failure (an invalid
flow, a failed execution, an unknown id), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flowmonkey.cliopts import add_store_and_flows, environment_handlers, refused_store
from flowmonkey.coordination import WakeSignaler, attach_signaler, signaler_for
from flowmonkey.defaults import Engine
from flowmonkey.durations import parse_duration
from flowmonkey.errors import FlowMonkeyError
from flowmonkey.flowdirectory import FlowDirectory
from flowmonkey.flowfiles import FlowSection
from flowmonkey.model import Execution, ExecutionStatus, StepRecord
from flowmonkey.stores import ExecutionQuery, MemoryStore, Store, open_store

__all__ = ["build_parser", "main"]

OK, FAILED, USAGE = 0, 1, 2

# Subcommands implemented in their own modules, imported only when used.
DELEGATED = {
    "worker": ("flowmonkey.worker", "run executions headless (claims work, wakes timers, fires triggers)"),
    "bench": ("flowmonkey.bench", "measure steps per second on a store"),
    "emit": ("flowmonkey.emit", "emit an event that starts the flows listening for it"),
}

STATUS_MARKS = {
    ExecutionStatus.PENDING: ("·", "dim"),
    ExecutionStatus.RUNNING: ("▶", "cyan"),
    ExecutionStatus.WAITING: ("◷", "yellow"),
    ExecutionStatus.COMPLETED: ("✔", "green"),
    ExecutionStatus.FAILED: ("✘", "red"),
    ExecutionStatus.CANCELLED: ("⊘", "magenta"),
}

MAX_WAIT_HELP = "with --wait: the longest timer to sleep over in-process (default 5m)"

# Piped output is read by people too (less, CI logs): give tables room rather than 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UsageError(Exception):
    """Bad input on the command line (exit code 2)."""


# ---------------------------------------------------------------------------
# Parser


def _common(parser: argparse.ArgumentParser) -> None:
    add_store_and_flows(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def _add(subparsers: Any, name: str, help_text: str, handler: Callable[..., Any]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
    _common(parser)
    parser.set_defaults(handler=handler)
    return parser


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``selected`` names a delegated subcommand to configure."""
    parser = argparse.ArgumentParser(prog="flowmonkey", description="FlowMonkey: durable workflows.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    validate = _add(subparsers, "validate", "check every flow file and handler module", cmd_validate)
    validate.add_argument("directory", nargs="?", help="the flows directory (default: --flows)")
    run = _add(subparsers, "run", "start an execution of a flow", cmd_run)
    run.add_argument("flow", help="the flow id")
    run.add_argument("--input", default="{}", help="the initial context: JSON or @file.json")
    run.add_argument("--version", default=None, help="a flow version (default: the latest)")
    run.add_argument("--idempotency-key", default=None, help="start at most once per key")
    run.add_argument(
        "--wait", action="store_true", help="run it here until it finishes or waits for a person"
    )
    run.add_argument("--max-wait", type=_seconds, default=300.0, help=MAX_WAIT_HELP)
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
    for name, (module_name, help_text) in DELEGATED.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            module = importlib.import_module(module_name)
            module.configure_parser(sub)
            sub.set_defaults(module=module)
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


def _selected(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = _selected(args_list)
    try:
        parser = build_parser(selected if selected in DELEGATED else None)
    except ImportError as exc:
        # Delegated commands load on use (the rest of the CLI starts without their deps).
        err.print(f"flowmonkey {selected}: cannot load it, a dependency is missing ({escape(str(exc))})")
        return USAGE
    args = parser.parse_args(args_list)
    if refused := refused_store(args):
        err.print(f"flowmonkey {args.command}: {escape(refused)}")
        return USAGE
    if getattr(args, "module", None) is not None:
        module: ModuleType = args.module
        return int(module.run(args))
    try:
        return int(asyncio.run(args.handler(args)))
    except UsageError as exc:
        err.print(f"flowmonkey {args.command}: {escape(str(exc))}")
        return USAGE
    except FlowMonkeyError as exc:
        _fail(args, f"{exc.code}: {exc.message}")
        return FAILED
    except KeyboardInterrupt:
        return 130  # the shell's convention for SIGINT


def _fail(args: argparse.Namespace, message: str) -> None:
    if args.json:
        print(json.dumps({"error": message}))
    else:
        err.print(f"[red]error:[/red] {escape(message)}")


# ---------------------------------------------------------------------------
# Helpers


def _json_arg(text: str, option: str) -> Any:
    """JSON from the command line, or from a file with ``@path``."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text("utf-8")
        except OSError as exc:
            raise UsageError(f"{option}: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc}") from None


def _is_dir(path: str) -> bool:
    return Path(path).is_dir()


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def _status(status: ExecutionStatus) -> str:
    mark, colour = STATUS_MARKS[status]
    return f"[{colour}]{mark} {status.value}[/{colour}]"


async def _with_store(url: str, work: Callable[[Store], Awaitable[int]]) -> int:
    async with open_store(url) as store:
        return await work(store)


@asynccontextmanager
async def _signalling(engine: Engine, store_url: str, *, enabled: bool = True) -> AsyncIterator[None]:
    """Tell workers and consoles in other processes what ``engine`` changes here (a new
    execution, a resume, a cancel), so they act at once rather than at their re-check.

    The signaler is the one the workers use (:func:`signaler_for`; Redis when
    ``FLOWMONKEY_REDIS`` is set, as for ``flowmonkey worker``); stopping it sends what
    is queued, before the command exits.
    """
    signaler = await _start_signaler(store_url) if enabled else None
    if signaler is None:
        yield
        return
    detach = attach_signaler(engine, signaler)
    try:
        yield
    finally:
        detach()
        await signaler.stop()


async def _start_signaler(store_url: str) -> WakeSignaler | None:
    signaler = signaler_for(store_url, redis=os.environ.get("FLOWMONKEY_REDIS") or None)
    if signaler is None:
        return None
    try:
        await signaler.start(_ignore_wakes)
    except FlowMonkeyError as exc:
        # The command's own work matters more: workers find it at their re-check.
        err.print(f"[yellow]warning:[/yellow] cannot signal workers: {escape(exc.message)}")
        return None
    return signaler


def _ignore_wakes(execution_id: str | None, wake_at: object) -> None:
    """A command only sends signals; what other processes signal is not its business."""


def _sections() -> list[FlowSection]:
    """The flow-file sections other packages check (imported here: only flow loading needs them)."""
    from flowmonkey.triggers import TRIGGERS_SECTION

    return [TRIGGERS_SECTION]


async def _load_flows(directory: str, engine: Engine, *, quiet: bool) -> FlowDirectory:
    """Load the flows and handler modules; problems go to stderr but do not stop us."""
    for configured in environment_handlers():  # before the modules: theirs win
        engine.handlers.register(configured)
    flows = FlowDirectory(directory, engine, sections=_sections())
    if not _is_dir(directory):
        if not quiet:
            err.print(f"[yellow]warning:[/yellow] no flows directory {escape(directory)}")
        return flows
    await flows.load()
    if not quiet:
        for problem in flows.problems:
            err.print(escape(str(problem)))
    return flows


# ---------------------------------------------------------------------------
# validate


async def cmd_validate(args: argparse.Namespace) -> int:
    directory = args.directory or args.flows
    if not _is_dir(directory):
        raise UsageError(f"no flows directory {directory}")
    flows = FlowDirectory(directory, Engine(MemoryStore()), sections=_sections())
    states = await flows.load()
    errors = [p for s in states for p in s.errors]
    if args.json:
        _print_json(
            {
                "ok": not errors,
                "files": [
                    {
                        "path": str(s.path),
                        "kind": s.kind.value,
                        "ok": s.ok,
                        "flow_id": s.flow_id,
                        "version": s.version,
                        "handler_types": list(s.handler_types),
                        "problems": [p.to_dict() for p in s.problems],
                    }
                    for s in states
                ],
            }
        )
        return FAILED if errors else OK
    for problem in flows.problems:
        (err if problem.severity == "error" else out).print(escape(str(problem)))
    good = sum(1 for s in states if s.ok)
    summary = f"{good} of {len(states)} files ok, {len(errors)} error(s) in {directory}"
    out.print(("[red]✘[/red] " if errors else "[green]✔[/green] ") + escape(summary))
    return FAILED if errors else OK


# ---------------------------------------------------------------------------
# run and resume


async def cmd_run(args: argparse.Namespace) -> int:
    context = _json_arg(args.input, "--input")
    if not isinstance(context, dict):
        raise UsageError("--input must be a JSON object (the initial context)")

    async def work(store: Store) -> int:
        engine = Engine(store)
        await _load_flows(args.flows, engine, quiet=args.json)
        # With --wait it runs here: a signal would only make a worker race us for it.
        async with _signalling(engine, args.store, enabled=not args.wait):
            execution, created = await engine.create(
                args.flow, context, version=args.version, idempotency_key=args.idempotency_key
            )
        if args.wait:
            execution = await _run_here(engine, execution.id, args.max_wait)
        return _report(args, execution, created=created)

    return await _with_store(args.store, work)


async def cmd_resume(args: argparse.Namespace) -> int:
    data = _json_arg(args.data, "--data")

    async def work(store: Store) -> int:
        engine = Engine(store)
        if args.wait:
            await _load_flows(args.flows, engine, quiet=args.json)
        async with _signalling(engine, args.store, enabled=not args.wait):
            execution = await engine.resume(args.id, data)
        if args.wait:
            execution = await _run_here(engine, execution.id, args.max_wait)
        return _report(args, execution, verb="resumed")

    return await _with_store(args.store, work)


async def _run_here(engine: Engine, execution_id: str, max_wait: float) -> Execution:
    """Run until the execution finishes or waits, sleeping over timers up to ``max_wait``.

    A wait without a wake time, or a longer one (an approval's deadline), is left to a
    person and a worker.
    """
    while True:
        execution = await engine.run(execution_id)
        if execution.status is not ExecutionStatus.WAITING or execution.wake_at is None:
            return execution
        delay = (execution.wake_at - engine.now()).total_seconds()
        if delay > max_wait:
            return execution
        if delay > 0:
            err.print(f"waiting {delay:.1f}s until {execution.wake_at:%Y-%m-%d %H:%M:%S} UTC …")
            await asyncio.sleep(delay)


def _report(
    args: argparse.Namespace, execution: Execution, *, verb: str = "started", created: bool = True
) -> int:
    code = FAILED if execution.status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED) else OK
    if args.json:
        _print_json({**execution.to_dict(), "created": created})
        return code
    if not created:
        verb = "already exists (same idempotency key)"
    out.print(f"{execution.id}  {escape(execution.flow_id)} {escape(execution.flow_version)}  {verb}")
    _print_summary(execution)
    if execution.status in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING):
        out.print("[dim]a worker or the console runs it on (or pass --wait to run it here)[/dim]")
    return code


def _print_summary(execution: Execution) -> None:
    out.print(f"status   {_status(execution.status)}")
    if execution.current_step_id and not execution.is_terminal:
        out.print(f"step     {escape(execution.current_step_id)}")
    if execution.status is ExecutionStatus.WAITING:
        out.print(f"waiting  {escape(execution.wait_reason or '')}")
        if execution.wake_at:
            out.print(f"wakes    {execution.wake_at.isoformat()}")
    if execution.error:
        out.print(f"error    [red]{escape(execution.error.code)}[/red]: {escape(execution.error.message)}")
    if execution.cancellation:
        cancel = execution.cancellation
        out.print(f"cancel   by {escape(cancel.source)}: {escape(cancel.reason or '')}")
    out.print("context  " + escape(json.dumps(execution.context, default=str, ensure_ascii=False)))


# ---------------------------------------------------------------------------
# list, show, cancel


async def cmd_list(args: argparse.Namespace) -> int:
    query = ExecutionQuery(statuses=(ExecutionStatus(args.status),) if args.status else (), flow_id=args.flow)

    async def work(store: Store) -> int:
        page = await store.list_executions(query, limit=args.limit)
        if args.json:
            _print_json([e.to_dict() for e in page.items])
            return OK
        table = Table("ID", "FLOW", "VER", "STATUS", "STEP", "UPDATED", box=None)
        for column in table.columns:
            column.no_wrap = True
        for e in page.items:
            table.add_row(
                e.id,
                escape(e.flow_id),
                escape(e.flow_version),
                _status(e.status),
                escape(e.current_step_id or "—") if not e.is_terminal else "—",
                f"{e.updated_at:%m-%d %H:%M}",
            )
        out.print(table if page.items else "no executions")
        return OK

    return await _with_store(args.store, work)


async def cmd_show(args: argparse.Namespace) -> int:
    async def work(store: Store) -> int:
        execution = await store.get_execution(args.id)
        if execution is None:
            _fail(args, f"no execution {args.id!r}")
            return FAILED
        history = await store.history(args.id)
        if args.json:
            _print_json({"execution": execution.to_dict(), "history": [r.to_dict() for r in history]})
            return OK
        out.print(f"{execution.id}  {escape(execution.flow_id)} {escape(execution.flow_version)}")
        out.print(f"created  {execution.created_at.isoformat()}  updated {execution.updated_at.isoformat()}")
        _print_summary(execution)
        out.print(_timeline(history))
        return OK

    return await _with_store(args.store, work)


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
        async with _signalling(engine, args.store):
            result = await engine.cancel(args.id, source="cli", reason=args.reason)
        if args.json:
            _print_json(
                {
                    "cancelled": result.cancelled,
                    "previous_status": result.previous_status,
                    "error": result.error,
                    "children_cancelled": result.children_cancelled,
                }
            )
        elif result.cancelled:
            children = f" and {result.children_cancelled} child(ren)" if result.children_cancelled else ""
            out.print(f"{_status(ExecutionStatus.CANCELLED)} {args.id}{children}")
        else:
            err.print(f"[red]error:[/red] {escape(result.error or 'not cancelled')}")
        return OK if result.cancelled else FAILED

    return await _with_store(args.store, work)
