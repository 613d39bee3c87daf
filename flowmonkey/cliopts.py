"""What the ``flowmonkey`` commands take from their command line and environment.

The library reads no environment variable itself; the commands (and the console) read
them here and pass the values in.
"""

from __future__ import annotations

import argparse
import os

from flowmonkey.handlers.llm import llm_handler
from flowmonkey.registry import Handler
from flowmonkey.stores import DEFAULT_STORE_URL


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


def store_url(given: str | None) -> str:
    """``given``, else ``FLOWMONKEY_STORE``, else the default SQLite file."""
    return given or os.environ.get("FLOWMONKEY_STORE") or DEFAULT_STORE_URL


def environment_handlers() -> list[Handler]:
    """Built-in handlers configured from the environment: ``llm`` with ``OPENAI_BASE_URL``
    and ``OPENAI_API_KEY`` (the defaults of steps that name no ``baseUrl`` / ``apiKey``)."""
    return [
        llm_handler(
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
            api_key=os.environ.get("OPENAI_API_KEY") or None,
        )
    ]
