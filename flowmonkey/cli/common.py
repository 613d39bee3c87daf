"""What the commands share: exit codes, JSON arguments, the store, the flows, and the
wake signals that tell workers elsewhere what a command changed."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from rich.markup import escape

from flowmonkey import jsonvalues
from flowmonkey.cli.output import err
from flowmonkey.cliopts import environment_handlers
from flowmonkey.coordination import WakeSignaler, attach_signaler, signaler_for
from flowmonkey.defaults import Engine
from flowmonkey.errors import FlowMonkeyError, NotJsonError
from flowmonkey.flowdirectory import FlowDirectory
from flowmonkey.flowfiles import FlowSection
from flowmonkey.stores import Store, open_store

OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input on the command line (exit code 2)."""


def operator() -> str:
    """Who acts, for the history: the user running the command."""
    try:
        return f"{getpass.getuser()} (cli)"
    except (KeyError, OSError):
        return "cli"


def json_arg(text: str, option: str) -> Any:
    """Strict JSON from the command line, or from a file with ``@path`` (no ``NaN``, no
    ``Infinity``, no integer too long to keep: what every store keeps the same way)."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text("utf-8")
        except OSError as exc:
            raise UsageError(f"{option}: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        return jsonvalues.loads(text, what=option)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option} is not valid JSON: {exc}") from None
    except NotJsonError as exc:
        raise UsageError(exc.message) from None


def is_dir(path: str) -> bool:
    return Path(path).is_dir()


async def with_store(url: str, work: Callable[[Store], Awaitable[int]]) -> int:
    async with open_store(url) as store:
        return await work(store)


@asynccontextmanager
async def signalling(engine: Engine, store_url: str, *, enabled: bool = True) -> AsyncIterator[None]:
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


def sections() -> list[FlowSection]:
    """The flow-file sections other packages check (imported here: only flow loading needs them)."""
    from flowmonkey.triggers import TRIGGERS_SECTION

    return [TRIGGERS_SECTION]


async def load_flows(directory: str, engine: Engine, *, quiet: bool) -> FlowDirectory:
    """Load the flows and handler modules; problems go to stderr but do not stop us."""
    for configured in environment_handlers():  # before the modules: theirs win
        engine.handlers.register(configured)
    flows = FlowDirectory(directory, engine, sections=sections())
    if not is_dir(directory):
        if not quiet:
            err.print(f"[yellow]warning:[/yellow] no flows directory {escape(directory)}")
        return flows
    await flows.load()
    if not quiet:
        for problem in flows.problems:
            err.print(escape(str(problem)))
    return flows
