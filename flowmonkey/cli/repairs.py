"""``flowmonkey retry``, ``skip``, ``fail`` and ``fork``: fix and continue one execution.

``retry`` continues a failed, cancelled or held execution from the step that stopped it;
``skip`` gives a held step an output and goes on; ``fail`` fails a held step (its
``onFailure`` then applies); ``fork`` starts a new execution at any step another one
visited. Without ``--wait`` a worker or the console runs the execution on.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from rich.markup import escape

from flowmonkey.cli.common import UsageError, json_arg, load_flows, operator, signalling, with_store
from flowmonkey.cli.output import out
from flowmonkey.cli.running import report, run_here
from flowmonkey.defaults import Engine
from flowmonkey.model import Execution
from flowmonkey.stores import Store


async def cmd_retry(args: argparse.Namespace) -> int:
    return await _repair(args, "retried", lambda engine: engine.retry(args.id, by=operator()))


async def cmd_skip(args: argparse.Namespace) -> int:
    output = json_arg(args.output, "--output")
    return await _repair(args, "skipped", lambda engine: engine.skip(args.id, output, by=operator()))


async def cmd_fail(args: argparse.Namespace) -> int:
    return await _repair(args, "failed by the operator", lambda engine: engine.fail(args.id, by=operator()))


async def cmd_fork(args: argparse.Namespace) -> int:
    context = json_arg(args.context, "--context") if args.context is not None else None
    if context is not None and not isinstance(context, dict):
        raise UsageError("--context must be a JSON object (the context the fork starts with)")

    async def work(store: Store) -> int:
        engine = Engine(store)
        await load_flows(args.flows, engine, quiet=True)
        async with signalling(engine, args.store, enabled=not args.wait):
            fork = await engine.fork(
                args.id, args.step, visit=args.visit, context=context, definition=args.definition
            )
        if args.wait:
            fork = await run_here(engine, fork.id, args.max_wait)
        if not args.json:
            out.print(f"forked {escape(args.id)} at step {escape(args.step)} ({args.definition} definition)")
        return report(args, fork)

    return await with_store(args.store, work)


async def _repair(args: argparse.Namespace, verb: str, act: Callable[[Engine], Awaitable[Execution]]) -> int:
    async def work(store: Store) -> int:
        engine = Engine(store)
        if args.wait:
            await load_flows(args.flows, engine, quiet=args.json)
        async with signalling(engine, args.store, enabled=not args.wait):
            execution = await act(engine)
        if args.wait:
            execution = await run_here(engine, execution.id, args.max_wait)
        return report(args, execution, verb=verb)

    return await with_store(args.store, work)
