"""``flowmonkey run`` and ``flowmonkey resume``: start or resume an execution, and with
``--wait`` run it here until it finishes or waits for a person."""

from __future__ import annotations

import argparse
import asyncio

from rich.markup import escape

from flowmonkey.cli.common import FAILED, OK, UsageError, json_arg, load_flows, signalling, with_store
from flowmonkey.cli.output import err, out, print_json, print_summary
from flowmonkey.defaults import Engine
from flowmonkey.flowdirectory import FlowDirectory
from flowmonkey.model import Execution, ExecutionStatus
from flowmonkey.stores import Store


async def cmd_run(args: argparse.Namespace) -> int:
    context = json_arg(args.input, "--input")
    if not isinstance(context, dict):
        raise UsageError("--input must be a JSON object (the initial context)")

    async def work(store: Store) -> int:
        engine = Engine(store)
        flows = await load_flows(args.flows, engine, quiet=True)
        if not args.json:
            _print_problems_of(flows, args.flow)
        # With --wait it runs here: a signal would only make a worker race us for it.
        async with signalling(engine, args.store, enabled=not args.wait):
            execution, created = await engine.create(
                args.flow, context, version=args.version, idempotency_key=args.idempotency_key
            )
        if args.wait:
            execution = await run_here(engine, execution.id, args.max_wait)
        return report(args, execution, created=created)

    return await with_store(args.store, work)


def _print_problems_of(flows: FlowDirectory, flow_id: str) -> None:
    """The problems of the flow being run (its file, by flow id or by name), not of others."""
    own = [s for s in flows.files() if s.flow_id == flow_id or s.path.stem == flow_id]
    for state in own:
        for problem in state.problems:
            err.print(escape(str(problem)))
    if flow_id not in flows.engine.flows:
        others = sum(1 for s in flows.files() if s.errors and s not in own)
        if others:
            err.print(
                f"[dim]{others} other file(s) in {escape(str(flows.directory))} have errors: flowmonkey validate[/dim]"
            )


async def cmd_resume(args: argparse.Namespace) -> int:
    data = json_arg(args.data, "--data")

    async def work(store: Store) -> int:
        engine = Engine(store)
        if args.wait:
            await load_flows(args.flows, engine, quiet=args.json)
        async with signalling(engine, args.store, enabled=not args.wait):
            execution = await engine.resume(args.id, data)
        if args.wait:
            execution = await run_here(engine, execution.id, args.max_wait)
        return report(args, execution, verb="resumed")

    return await with_store(args.store, work)


async def run_here(engine: Engine, execution_id: str, max_wait: float) -> Execution:
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


_NOT_OK = (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.HELD)
"""Exit 1: it ended without success, or a step failed and waits for an operator (held)."""


def report(
    args: argparse.Namespace, execution: Execution, *, verb: str = "started", created: bool = True
) -> int:
    code = FAILED if execution.status in _NOT_OK else OK
    if args.json:
        print_json({**execution.to_dict(), "created": created})
        return code
    if not created:
        verb = "already exists (same idempotency key)"
    out.print(f"{execution.id}  {escape(execution.flow_id)} {escape(execution.flow_version)}  {verb}")
    print_summary(execution)
    if execution.status in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING):
        out.print(
            "[dim]it continues when a worker or the console runs it (or pass --wait to run it here)[/dim]"
        )
    return code
