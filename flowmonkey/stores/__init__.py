"""Store implementations and :func:`open_store`, which picks one by URL scheme.

Optional drivers are imported only when their scheme is used.
"""

from __future__ import annotations

from typing import Any, cast

from flowmonkey.errors import StoreError
from flowmonkey.stores.base import CreateResult, ExecutionQuery, Page, Store
from flowmonkey.stores.memory import MemoryStore

DEFAULT_STORE_URL = "sqlite:///.flowmonkey/flowmonkey.db"

__all__ = [
    "DEFAULT_STORE_URL",
    "CreateResult",
    "ExecutionQuery",
    "MemoryStore",
    "Page",
    "Store",
    "open_store",
]


def open_store(url: str | Any = DEFAULT_STORE_URL, *, readonly: bool = False, **options: Any) -> Store:
    """A store for ``memory://``, ``sqlite:///path.db`` or ``postgresql://...``.

    Use it as ``async with open_store(url) as store:``. An asyncpg pool may be passed
    instead of a URL; the store then never closes it. ``readonly=True`` opens an existing
    SQLite or PostgreSQL store read-only at the driver (SQLite ``mode=ro``, PostgreSQL
    ``default_transaction_read_only``): writes are refused there, nothing is created.
    """
    if readonly:
        options["readonly"] = True
    if not isinstance(url, str):
        from flowmonkey.stores.postgres import PostgresStore

        return cast(Store, PostgresStore(url, **options))
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        if readonly:
            raise StoreError("memory:// cannot be read-only: it starts empty, nothing else can fill it")
        return MemoryStore()
    if scheme == "sqlite":
        from flowmonkey.stores.sqlite import SQLiteStore

        return cast(Store, SQLiteStore(url, **options))
    if scheme in ("postgres", "postgresql"):
        try:
            from flowmonkey.stores.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError(
                "PostgreSQL needs the asyncpg driver: pip install 'flowmonkey[postgres]'"
            ) from exc
        return cast(Store, PostgresStore(url, **options))
    raise StoreError(f"unknown store URL {url!r}: expected memory://, sqlite:///path.db or postgresql://...")
