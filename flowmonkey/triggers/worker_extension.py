"""Triggers inside ``flowmonkey worker``: the scheduler, flow-declared triggers and ``--http``.

    flowmonkey worker --http 127.0.0.1:8080      # webhooks on loopback; schedules always run

Wire it once with ``flowmonkey.worker.register_extension(TRIGGERS_EXTENSION)``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from flowmonkey.engine import Engine
from flowmonkey.triggers.http import HttpServer, serve_http
from flowmonkey.triggers.schedule import ScheduleConfig
from flowmonkey.triggers.service import TriggerService
from flowmonkey.worker import Extension


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:PORT`` means 127.0.0.1; ``[::1]:PORT`` for IPv6) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT like 127.0.0.1:8080, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def configure(parser: argparse.ArgumentParser) -> None:
    """The worker's trigger options."""
    parser.add_argument(
        "--http",
        type=parse_address,
        default=os.environ.get("FLOWMONKEY_HTTP") or None,
        metavar="HOST:PORT",
        help="serve webhook triggers here (env FLOWMONKEY_HTTP; off by default; use 127.0.0.1 unless "
        "a proxy in front needs more)",
    )
    parser.add_argument("--no-schedule", action="store_true", help="do not fire schedule triggers here")


def service(args: argparse.Namespace, engine: Engine, runtime: Any) -> AbstractAsyncContextManager[Any]:
    """Run a :class:`TriggerService` (and its HTTP server) for the worker's lifetime."""
    return _hosted(engine, getattr(args, "http", None), not getattr(args, "no_schedule", False))


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedTriggers:
    """What the worker runs: the service, and its HTTP server when ``--http`` is given."""

    service: TriggerService
    server: HttpServer | None


@asynccontextmanager
async def _hosted(engine: Engine, http: Any, schedule: bool) -> AsyncIterator[HostedTriggers]:
    triggers = TriggerService(engine.store, engine, schedule=ScheduleConfig() if schedule else None)
    if http is not None:
        triggers.asgi_app()  # marks the routes as served before start() registers triggers
    await triggers.start()
    server = None
    try:
        if http is not None:
            address = parse_address(http) if isinstance(http, str) else http
            server = await serve_http(triggers, *address)
        yield HostedTriggers(service=triggers, server=server)
    finally:
        if server is not None:
            await server.stop()
        await triggers.stop()


TRIGGERS_EXTENSION = Extension(configure=configure, service=service)
