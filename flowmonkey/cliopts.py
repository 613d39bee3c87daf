"""What the ``flowmonkey`` commands take from their command line and environment.

The library reads no environment variable itself; the commands (and the console) read
them here and pass the values in.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from flowmonkey.errors import StoreError
from flowmonkey.handlers.llm import llm_handler
from flowmonkey.registry import Handler
from flowmonkey.stores import DEFAULT_STORE_URL
from flowmonkey.stores.sqlite import parse_sqlite_url

# The commands that work on an existing store: a missing SQLite file there is a typo, not
# a wish for an empty store (``run`` and ``worker`` make one; ``--create`` asks for one).
USES_EXISTING_STORE = frozenset(
    {"list", "show", "resume", "cancel", "emit", "retry", "skip", "fail", "fork", "migrate", "flows", "prune"}
)


def add_store_and_flows(parser: argparse.ArgumentParser) -> None:
    """``--store URL`` (env ``FLOWMONKEY_STORE``) and ``--flows DIR`` (env ``FLOWMONKEY_FLOWS``)."""
    parser.add_argument(
        "--store",
        default=os.environ.get("FLOWMONKEY_STORE", DEFAULT_STORE_URL),
        help="store URL: memory://, sqlite:///path.db or postgresql://... "
        "(env FLOWMONKEY_STORE; default %(default)s)",
    )
    parser.add_argument(
        "--flows",
        default=os.environ.get("FLOWMONKEY_FLOWS", "flows"),
        help="the flows directory (env FLOWMONKEY_FLOWS; default %(default)s)",
    )
    add_create(parser)


def add_create(parser: argparse.ArgumentParser) -> None:
    """``--create``: make a new SQLite store where a missing file would be refused."""
    parser.add_argument(
        "--create",
        action="store_true",
        help="create the SQLite database if it does not exist (default: only in .flowmonkey/)",
    )


def store_url(given: str | None) -> str:
    """``given``, else ``FLOWMONKEY_STORE``, else the default SQLite file."""
    return given or os.environ.get("FLOWMONKEY_STORE") or DEFAULT_STORE_URL


def missing_store(url: str) -> str | None:
    """Why ``url`` names no store, or None when it does (or may be created).

    A SQLite file that does not exist is refused, except in the default ``.flowmonkey/``
    directory of the working directory, which a fresh checkout starts without: a
    mistyped path must not quietly become a new, empty store.
    """
    if not url.lower().startswith("sqlite:///"):
        return None
    try:
        path = Path(parse_sqlite_url(url)[0])
    except StoreError:
        return None  # opening the store says what is wrong with the URL
    if str(path) == ":memory:" or path.exists():
        return None
    if path.absolute().parent == Path(parse_sqlite_url(DEFAULT_STORE_URL)[0]).absolute().parent:
        return None
    return f"no SQLite database at {path.absolute()} (check the path; --create makes a new, empty store)"


def refused_store(args: argparse.Namespace) -> str | None:
    """:func:`missing_store` for a command that works on an existing store (not ``--create``)."""
    if args.command not in USES_EXISTING_STORE or getattr(args, "create", False):
        return None
    return missing_store(store_url(getattr(args, "store", None)))


def environment_handlers() -> list[Handler]:
    """Built-in handlers configured from the environment: ``llm`` with ``OPENAI_BASE_URL``
    and ``OPENAI_API_KEY`` (the defaults of steps that name no ``baseUrl`` / ``apiKey``)."""
    return [
        llm_handler(
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
            api_key=os.environ.get("OPENAI_API_KEY") or None,
        )
    ]
