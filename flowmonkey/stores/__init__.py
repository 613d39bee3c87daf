"""Store implementations and :func:`open_store`, which picks one by URL scheme.

Optional drivers are imported only when their scheme is used. The protocol, and the parts
callers depend on (executions, claims, triggers, jobs), are in :mod:`.base`.

Where the SQL stores keep things:

- the columns: derived from the model's dataclasses, in :mod:`._columns` (one table per
  record; its SQL types and codecs follow from each field's type);
- the schema: ``sql/<store>/migrations/NNNN_what.sql``, one file per numbered migration;
- the queries: ``sql/<store>/queries.sql`` by name; statements that spell out every column
  beyond a list (batches of typed arrays, per-shape commits) are built from the columns
  in ``_pg_sql.py`` and ``_sqlite_commit.py``.

Upgrades never strand a running system:

- One number per change of the schema, the same on both stores (a change that concerns one
  store is an empty migration on the other). The version a database is at is recorded in
  it: SQLite's ``PRAGMA user_version``; PostgreSQL's ``flowmonkey_schema_version`` rows.
  FlowMonkey 0.1 numbered PostgreSQL on its own (its version 2 is migration 3 here); see
  ``sql/postgres/migrations/0002_execution_counts.sql``.
- Opening a store applies the migrations the database lacks, each once, under a lock
  (``BEGIN IMMEDIATE``; an advisory lock on PostgreSQL), so processes opening a database
  together do not collide.
- Migrations are additive only: new tables, new columns (nullable, or with a default),
  new indexes. Never drop or rename a column, table or index, or change what a stored
  value means, while a release that reads it may still run: workers of the new version
  start while the old ones drain. FlowMonkey 0.1 inserts into ``triggers``,
  ``definitions``, ``idempotency_keys`` and ``trigger_slots`` without a column list, so
  those four tables get no new column while it may run; this code names every column.
- A FlowMonkey that finds a database newer than it understands refuses to open it with
  one line (:class:`~flowmonkey.errors.SchemaVersionError`: the version found, the ones it
  understands, "upgrade FlowMonkey") rather than misread its rows.
"""

from __future__ import annotations

from typing import Any, cast

from flowmonkey.errors import StoreError
from flowmonkey.stores._urls import store_kind
from flowmonkey.stores.base import (
    Claim,
    ClaimStore,
    CreateResult,
    DefinitionStore,
    ExecutionQuery,
    ExecutionStore,
    FeedEntry,
    FeedPage,
    FeedStore,
    JobStore,
    Page,
    Store,
    TriggerStore,
)
from flowmonkey.stores.health import FlowHealth, StepHealth
from flowmonkey.stores.memory import MemoryStore

DEFAULT_STORE_URL = "sqlite:///.flowmonkey/flowmonkey.db"

__all__ = [
    "DEFAULT_STORE_URL",
    "Claim",
    "ClaimStore",
    "CreateResult",
    "DefinitionStore",
    "ExecutionQuery",
    "ExecutionStore",
    "FeedEntry",
    "FeedPage",
    "FeedStore",
    "FlowHealth",
    "JobStore",
    "MemoryStore",
    "Page",
    "StepHealth",
    "Store",
    "TriggerStore",
    "check_store_url",
    "open_store",
]


def check_store_url(url: str) -> None:
    """Raise :class:`~flowmonkey.errors.StoreURLError` (the password masked) unless ``url``
    is a well-formed ``memory://``, ``sqlite:///path.db`` or ``postgresql://...`` URL with
    options its store takes. Nothing connects."""
    store_kind(url)


def open_store(url: str | Any = DEFAULT_STORE_URL, *, readonly: bool = False, **options: Any) -> Store:
    """A store for ``memory://``, ``sqlite:///path.db`` or ``postgresql://...``.

    Use it as ``async with open_store(url) as store:``. An asyncpg pool may be passed
    instead of a URL; the store then never closes it. ``readonly=True`` opens an existing
    SQLite or PostgreSQL store read-only at the driver (SQLite ``mode=ro``, PostgreSQL
    ``default_transaction_read_only``): writes are refused there, nothing is created. A URL
    that cannot work (malformed, an unknown scheme or option) raises
    :class:`~flowmonkey.errors.StoreURLError`.
    """
    if readonly:
        options["readonly"] = True
    if not isinstance(url, str):
        from flowmonkey.stores.postgres import PostgresStore

        return cast(Store, PostgresStore(url, **options))
    kind = store_kind(url)  # a malformed URL fails here, before anything connects
    if kind == "memory":
        if readonly:
            raise StoreError("memory:// cannot be read-only: it starts empty, nothing else can fill it")
        return MemoryStore()
    if kind == "sqlite":
        from flowmonkey.stores.sqlite import SQLiteStore

        return cast(Store, SQLiteStore(url, **options))
    try:
        from flowmonkey.stores.postgres import PostgresStore
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StoreError("PostgreSQL needs the asyncpg driver: pip install 'flowmonkey[postgres]'") from exc
    return cast(Store, PostgresStore(url, **options))
