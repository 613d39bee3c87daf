"""Command-line options of ``flowmonkey-console``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flowmonkey import DEFAULT_STORE_URL, InvalidArgumentError, parse_duration, token_cutoff, token_secrets


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleOptions:
    """How the console runs: where flows and executions live, and what it may do."""

    flows_dir: Path = Path("flows")
    store_url: str = DEFAULT_STORE_URL
    readonly: bool = False
    """Nothing changes: the store is opened read-only, no runtime, triggers or handler code."""
    create: bool = False
    """Make a new SQLite store where a missing file would be refused (outside ``.flowmonkey/``)."""
    worker: bool = True
    http: tuple[str, int] | None = None
    secret: str | tuple[str, ...] | None = None
    """Signs and checks resume tokens (``FLOWMONKEY_SECRET``, then the older
    ``FLOWMONKEY_SECRET_FALLBACKS``, still accepted); shared with the workers."""
    legacy_tokens_until: datetime | None = None
    """Resume tokens of the old forms are refused from then on (``FLOWMONKEY_LEGACY_TOKENS_UNTIL``)."""
    attach: bool = False
    """Only attach to the store: no runtime, triggers or flow sync, flow files read without
    their handler code (what each browser tab of ``--web`` runs); actions stay allowed."""
    web: tuple[str, int] | None = None
    """Serve the console in a browser here (``--web``) instead of on this terminal."""
    web_allow_actions: bool = False
    """The browser consoles may act (start, resume, cancel ...); read-only otherwise."""

    prune_every: timedelta | None = None
    """The embedded runtime prunes finished executions this often (off by default)."""
    retain: timedelta = timedelta(days=30)
    """With ``prune_every``: how long finished executions are kept."""


STORE_ENV = "FLOWMONKEY_CONSOLE_STORE"
"""The store URL when ``--store`` is not given: how ``--web`` hands it to the console of each
browser tab (not on its command line, where ``ps`` would show a password)."""


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT like 127.0.0.1:8080, got {text!r}")
    return host or "127.0.0.1", int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowmonkey-console",
        description="FlowMonkey operator console: watch, start, resume and cancel executions.",
    )
    parser.add_argument(
        "--flows", metavar="DIR", default="flows", help="flow files to watch (default: ./flows)"
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        default=os.environ.get(STORE_ENV, DEFAULT_STORE_URL),
        help=f"store URL (env {STORE_ENV}; default: {DEFAULT_STORE_URL})",
    )
    parser.add_argument(
        "--readonly",
        action="store_true",
        help="change nothing: open the store read-only; no worker, triggers or handler code",
    )
    parser.add_argument(
        "--create",
        action="store_true",
        help="create the SQLite database if it does not exist (default: only in .flowmonkey/)",
    )
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="only observe and act on the store; do not run executions, flows or triggers here",
    )
    parser.add_argument("--http", metavar="HOST:PORT", type=_host_port, help="serve HTTP triggers here")
    parser.add_argument(
        "--attach",
        action="store_true",
        help="only attach to the store: no worker, triggers or flow sync; flow files read without code",
    )
    parser.add_argument(
        "--web",
        metavar="HOST:PORT",
        type=_host_port,
        help="serve the console in a browser here (needs flowmonkey[web]); a token is printed at start",
    )
    parser.add_argument(
        "--web-allow-actions",
        action="store_true",
        help="with --web: the browser consoles may start, resume, cancel ... (default: read-only)",
    )
    parser.add_argument(
        "--prune-every",
        metavar="DURATION",
        type=_duration,
        help="with the worker: delete finished executions past --retain this often, e.g. 1h (off by default)",
    )
    parser.add_argument(
        "--retain", metavar="DURATION", type=_duration, default="30d", help="with --prune-every (default 30d)"
    )
    return parser


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_options(argv: Sequence[str] | None = None) -> ConsoleOptions:
    """Parse ``argv`` (default: ``sys.argv``); exits with code 2 on bad usage."""
    args = build_parser().parse_args(argv)
    return ConsoleOptions(
        flows_dir=Path(args.flows),
        store_url=args.store,
        readonly=args.readonly,
        create=args.create,
        worker=not args.no_worker and not args.readonly and not args.attach,
        attach=args.attach,
        web=args.web,
        web_allow_actions=args.web_allow_actions,
        http=args.http,
        prune_every=args.prune_every,
        retain=args.retain,
        secret=_secret(os.environ.get("FLOWMONKEY_SECRET"), os.environ.get("FLOWMONKEY_SECRET_FALLBACKS")),
        legacy_tokens_until=_cutoff(os.environ.get("FLOWMONKEY_LEGACY_TOKENS_UNTIL")),
    )


def _secret(secret: str | None, fallbacks: str | None) -> str | tuple[str, ...] | None:
    found = token_secrets(secret, fallbacks)
    return found[0] if len(found) == 1 else found or None


def _cutoff(text: str | None) -> datetime | None:
    """The cut-off of the old resume tokens; a bad value exits with code 2, as bad usage."""
    if not text:
        return None
    try:
        return token_cutoff(text)
    except InvalidArgumentError as exc:
        build_parser().error(f"FLOWMONKEY_LEGACY_TOKENS_UNTIL: {exc.message}")
