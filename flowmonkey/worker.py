"""``flowmonkey worker``: run executions headless until SIGTERM/SIGINT.

    flowmonkey worker --store postgresql://... --flows flows/ [--concurrency 16] [--redis redis://...]

Opens the store, loads (and hot-reloads) the flows directory with its handler modules,
and runs a :class:`~flowmonkey.runtime.Runtime`. On PostgreSQL, workers signal each
other with LISTEN/NOTIFY, and on one SQLite file through a watched wake file next to
it (the ``flowmonkey`` command signals them too); with ``--redis`` they use Redis
pub/sub and lock each execution while stepping it. With ``--jobs MODULE`` the worker
also runs the job functions of ``MODULE.JOBS`` (see :mod:`flowmonkey.jobs`). One log
line per lifecycle event. On SIGTERM/SIGINT the worker stops claiming, lets in-flight
steps finish within ``--grace``, releases every claim and exits with code 0.

Triggers run inside the worker too: the scheduler (unless ``--no-schedule``), the
triggers flow files declare, and webhooks with ``--http HOST:PORT`` (env
``FLOWMONKEY_HTTP``; loopback unless a proxy in front needs more). Resume tokens are
signed with ``FLOWMONKEY_SECRET`` (older secrets still accepted: the comma-separated
``FLOWMONKEY_SECRET_FALLBACKS``); workers and consoles that accept each other's tokens
need the same ones. Tokens of the old forms are refused from
``FLOWMONKEY_LEGACY_TOKENS_UNTIL`` (an ISO 8601 date or time) on.

With ``--http`` the worker also serves ``GET /metrics`` (Prometheus, with the
``metrics`` extra; ``--no-metrics`` turns them off). It traces with OpenTelemetry when a
tracer provider is set (``--tracing`` / ``--no-tracing``), and ``--log-format json``
writes one JSON object per line (:mod:`flowmonkey.jsonlogs`).

With ``--prune-every 1h`` the worker also deletes finished executions older than
``--retain`` (default 30d) every hour (see :mod:`flowmonkey.retention`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from flowmonkey.cliopts import add_store_and_flows, environment_handlers
from flowmonkey.coordination import LockManager, WakeSignaler, default_owner, signaler_for
from flowmonkey.defaults import Engine
from flowmonkey.durations import parse_duration
from flowmonkey.errors import FlowMonkeyError, InvalidArgumentError, SchemaVersionError, StoreURLError
from flowmonkey.events import Event, EventType
from flowmonkey.handlers.job import job_handler
from flowmonkey.jobs import JobRunner
from flowmonkey.jsonlogs import JsonFormatter, text_formatter
from flowmonkey.observability import Observability
from flowmonkey.retention import DEFAULT_RETENTION, Pruner, RetentionLoop, RetentionPolicy
from flowmonkey.runtime import Runtime
from flowmonkey.shutdown import STOP_SIGNALS, hold_stop_signals, stop_requested
from flowmonkey.stores import Store, open_store
from flowmonkey.triggers import (
    TRIGGERS_SECTION,
    HttpServer,
    ScheduleConfig,
    TriggerService,
    serve_http,
    token_cutoff,
    token_secrets,
)

log = logging.getLogger("flowmonkey.worker")

LIFECYCLE_PREFIXES = ("execution.", "job.", "flow.", "trigger.")
LIFECYCLE_EVENTS = frozenset(kind for kind in EventType if kind.value.startswith(LIFECYCLE_PREFIXES))
"""What the worker logs (at INFO): not the step events, which it then never builds."""


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:PORT`` means 127.0.0.1; ``[::1]:PORT`` for IPv6) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT like 127.0.0.1:8080, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the worker's options to ``parser``."""
    add_store_and_flows(parser)
    parser.add_argument("--concurrency", type=_positive, default=16, help="executions stepped at once")
    parser.add_argument(
        "--redis",
        default=os.environ.get("FLOWMONKEY_REDIS"),
        help="redis:// URL: signals and per-execution locks over Redis (env FLOWMONKEY_REDIS)",
    )
    parser.add_argument(
        "--lease", type=_duration, default=timedelta(seconds=30), help="claim lease (default 30s)"
    )
    parser.add_argument(
        "--recheck",
        type=_duration,
        default=timedelta(seconds=60),
        help="longest sleep without looking at the store (default 60s)",
    )
    parser.add_argument(
        "--grace",
        type=_duration,
        default=timedelta(seconds=10),
        help="time in-flight steps get on shutdown (default 10s)",
    )
    parser.add_argument("--owner", default=None, help="lease owner id (default host:pid:random)")
    parser.add_argument(
        "--jobs",
        metavar="MODULE",
        default=None,
        help="run jobs here: import MODULE and run the job functions of its JOBS mapping",
    )
    parser.add_argument("--no-watch", action="store_true", help="load the flows once, do not hot-reload")
    parser.add_argument("--quiet", action="store_true", help="no log line per lifecycle event")
    parser.add_argument(
        "--http",
        type=parse_address,
        default=os.environ.get("FLOWMONKEY_HTTP") or None,
        metavar="HOST:PORT",
        help="serve webhook triggers here (env FLOWMONKEY_HTTP; off by default; use 127.0.0.1 unless "
        "a proxy in front needs more)",
    )
    parser.add_argument("--no-schedule", action="store_true", help="do not fire schedule triggers here")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("FLOWMONKEY_LOG_FORMAT", "text"),
        help="text lines, or one JSON object per line (env FLOWMONKEY_LOG_FORMAT)",
    )
    parser.add_argument(
        "--no-metrics", action="store_true", help="collect no Prometheus metrics (GET /metrics answers 404)"
    )
    tracing = parser.add_mutually_exclusive_group()
    tracing.add_argument(
        "--tracing",
        action="store_true",
        default=None,
        help="OpenTelemetry spans per run segment and step (default: on if the application "
        "or opentelemetry-instrument set a tracer provider)",
    )
    tracing.add_argument("--no-tracing", dest="tracing", action="store_false", help="no spans")
    parser.add_argument(
        "--prune-every",
        type=_duration,
        default=None,
        help="delete finished executions past --retain this often, e.g. 1h (off by default)",
    )
    parser.add_argument(
        "--retain",
        type=_duration,
        default=DEFAULT_RETENTION,
        help="with --prune-every: how long (default 30d)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the worker until SIGTERM/SIGINT; 0 on a clean stop, 1 on a failure, 2 when the
    store URL is malformed or the database is newer than this FlowMonkey."""
    hold_stop_signals()  # until serve() installs the loop's handlers
    args.owner = args.owner or default_owner()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(worker=args.owner) if args.log_format == "json" else text_formatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # asyncpg's pool logs a traceback each time it fails to reconnect its floor of
    # connections; the runtime says when the store is lost and when it is back.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
    # watchfiles logs "1 change detected" for every wake signal through a SQLite store's
    # signal file (hundreds a minute) and every save in flows/: noise, not news.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    try:
        return asyncio.run(serve(args))
    except (SchemaVersionError, StoreURLError) as exc:  # a newer database, a malformed URL: do not start
        print(f"flowmonkey worker: {exc.message}", file=sys.stderr)
        return 2
    except FlowMonkeyError as exc:
        print(f"flowmonkey worker: {exc.message}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"flowmonkey worker: {exc}", file=sys.stderr)
        return 1


async def serve(
    args: argparse.Namespace, stop: asyncio.Event | None = None, *, store: Store | None = None
) -> int:
    """The worker's life: open, load, run until ``stop`` (or a signal), shut down.

    ``store`` replaces opening ``args.store`` (an embedding application's store, which
    the worker then leaves open).
    """
    stop = stop or asyncio.Event()
    _on_signals(stop)
    owner = args.owner or default_owner()
    async with AsyncExitStack() as stack:
        if store is None:
            store = await stack.enter_async_context(open_store(args.store))
        engine = Engine(store)
        observability = Observability.build(
            store,
            metrics=args.http is not None and not args.no_metrics,
            tracing=args.tracing,
            log_context=args.log_format == "json",
        )
        observability.install(engine)
        if "job" not in engine.handlers:
            # Flows with job steps load everywhere; only --jobs workers run the jobs.
            engine.handlers.register(job_handler)
        for configured in environment_handlers():  # before the flows' modules: theirs win
            engine.handlers.register(configured)
        if not args.quiet:
            engine.events.subscribe(_log_event, LIFECYCLE_EVENTS)
        await _load_flows(stack, args, engine)
        signaler, locks = await _coordination(stack, args, owner)
        runtime = Runtime(
            engine,
            concurrency=args.concurrency,
            lease=args.lease,
            owner=owner,
            signaler=signaler,
            lock_manager=locks,
            recheck=args.recheck,
            jobs=_job_runner(args, engine, owner),
        )
        await runtime.start()
        stack.push_async_callback(_stop_runtime, runtime, args.grace)
        await stack.enter_async_context(host_triggers(args, store, engine, observability))
        if args.prune_every is not None:
            pruner = Pruner(store, RetentionPolicy(older_than=args.retain))
            await stack.enter_async_context(RetentionLoop(pruner, args.prune_every))
        log.info("worker %s ready: store %s, concurrency %d", owner, store.url, args.concurrency)
        await stop.wait()
        log.info("worker %s stopping", owner)
    return 0


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedTriggers:
    """What the worker runs for triggers: the service, and its HTTP server with ``--http``."""

    service: TriggerService
    server: HttpServer | None


@asynccontextmanager
async def host_triggers(
    args: argparse.Namespace, store: Store, engine: Engine, observability: Observability | None = None
) -> AsyncIterator[HostedTriggers]:
    """Run a :class:`TriggerService` (and, with ``--http``, its webhook server, with
    ``GET /metrics``) meanwhile."""
    schedule = None if args.no_schedule else ScheduleConfig()
    secret = token_secrets(os.environ.get("FLOWMONKEY_SECRET"), os.environ.get("FLOWMONKEY_SECRET_FALLBACKS"))
    cutoff = os.environ.get("FLOWMONKEY_LEGACY_TOKENS_UNTIL")
    triggers = TriggerService(
        store,
        engine,
        schedule=schedule,
        secret=secret or None,
        legacy_tokens_until=token_cutoff(cutoff) if cutoff else None,
    )
    if args.http is not None:
        triggers.asgi_app()  # marks the routes as served before start() registers triggers
    await triggers.start()
    server = None
    try:
        if args.http is not None:
            server = await serve_http((observability or Observability()).http(triggers), *args.http)
        yield HostedTriggers(service=triggers, server=server)
    finally:
        if server is not None:
            await server.stop()
        await triggers.stop()


async def _stop_runtime(runtime: Runtime, grace: timedelta) -> None:
    await runtime.stop(grace=grace.total_seconds())
    stats = runtime.stats
    log.info("worker %s stopped after %d step(s), %d claim(s)", runtime.owner, stats.steps, stats.claimed)


def _on_signals(stop: asyncio.Event) -> None:
    """SIGTERM/SIGINT set ``stop``, also one that arrived while the worker started."""
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows, threads
            loop.add_signal_handler(signum, stop.set)
    if stop_requested():
        stop.set()


async def _load_flows(stack: AsyncExitStack, args: argparse.Namespace, engine: Engine) -> None:
    from flowmonkey.flowdirectory import FlowDirectory

    directory = FlowDirectory(args.flows, engine, sections=[TRIGGERS_SECTION])
    if args.no_watch:
        await directory.load()
    else:
        await stack.enter_async_context(directory)
    for problem in directory.problems:
        log.warning("%s", problem)
    log.info("loaded %d flow(s) from %s", len(engine.flows.latest()), args.flows)


async def _coordination(
    stack: AsyncExitStack, args: argparse.Namespace, owner: str
) -> tuple[WakeSignaler | None, LockManager | None]:
    """Redis signals and locks with ``--redis``; else the store's own signals
    (LISTEN/NOTIFY on PostgreSQL, the wake file on SQLite)."""
    locks = None
    if args.redis:
        from flowmonkey.coordination.redis import RedisLockManager

        locks = RedisLockManager(args.redis, owner=owner)
        stack.push_async_callback(locks.close)
    return signaler_for(args.store, redis=args.redis), locks


def _job_runner(args: argparse.Namespace, engine: Engine, owner: str) -> JobRunner | None:
    if not args.jobs:
        return None
    try:
        module = importlib.import_module(args.jobs)
    except ImportError as exc:
        raise InvalidArgumentError(f"--jobs {args.jobs}: cannot import it: {exc}") from exc
    functions = getattr(module, "JOBS", None)
    if not isinstance(functions, Mapping):
        raise InvalidArgumentError(
            f"--jobs {args.jobs}: the module has no JOBS mapping of job type -> function"
        )
    log.info("running jobs of type %s", ", ".join(sorted(functions)) or "(none)")
    return JobRunner(engine, functions, owner=owner)


def _log_event(event: Event) -> None:
    where = " ".join(
        f"{name}={value}"
        for name, value in (("flow", event.flow_id), ("step", event.step_id))
        if value is not None
    )
    about = {
        "execution_id": event.execution_id,
        "flow": event.flow_id,
        "step": event.step_id,
        "attempt": event.data.get("attempt"),
    }
    log.info("%s %s %s", event.type.value, event.execution_id or "-", where, extra=about)


def main(argv: list[str] | None = None) -> int:
    """``python -m flowmonkey.worker``: the same as ``flowmonkey worker``."""
    parser = argparse.ArgumentParser(
        prog="flowmonkey worker", description="Run executions headless until SIGTERM/SIGINT."
    )
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
