"""Which driver errors are transient: worth trying again later, because the same call may
then succeed (the server is back, the lock is free, the other transaction is done).

Everything else (a constraint, a value the store cannot encode or that is too large, a
bug) fails the same way every time: retrying it only repeats the failure, and its side
effects. The stores ask these functions when they translate a driver error into a
:class:`~flowmonkey.errors.StoreError` (its ``transient``).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from flowmonkey.errors import StoreError

T = TypeVar("T")
CONTENDED_TRIES = 4
"""Tries of a write that deadlocked (or failed to serialize) before its caller hears of it."""

# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) after which
# the same statement may succeed later. Class 08 (the connection) is matched by prefix.
_PG_TRANSIENT_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "40003",  # statement_completion_unknown
        "53000",  # insufficient_resources
        "53100",  # disk_full
        "53200",  # out_of_memory
        "53300",  # too_many_connections
        "55P03",  # lock_not_available
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, shutting down)
        "57P05",  # idle_session_timeout
    }
)
_PG_TRANSIENT_CLASSES = ("08",)  # connection_exception and all of its kind

# Of those, the ones another transaction caused: the server is there and answered.
_PG_CONTENDED_STATES = frozenset({"40001", "40P01", "55P03"})

# asyncpg's own InterfaceError says so in words when the connection went away under it.
_PG_CLOSED_WORDS = ("connection is closed", "connection was closed", "underlying connection is closed")

# SQLite primary result codes after which the same statement may succeed later.
_SQLITE_TRANSIENT_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # another connection holds the write lock past busy_timeout
        sqlite3.SQLITE_LOCKED,  # a table lock inside this process
        sqlite3.SQLITE_IOERR,  # a disk I/O error (and its extended codes)
        sqlite3.SQLITE_FULL,  # the disk is full
        sqlite3.SQLITE_PROTOCOL,  # a WAL lock race between processes
    }
)
_SQLITE_TRANSIENT_WORDS = ("database is locked", "database table is locked", "disk i/o error", "busy")


def classify_pg(exc: BaseException) -> bool:
    """Whether a PostgreSQL (asyncpg) error is transient.

    Transient: the network (``OSError``, a timeout), a lost connection, a server shutting
    down or starting up, too many connections, a serialization failure or deadlock.
    Not: constraint violations, data and encoding errors (class 22: a value too long,
    invalid text, a NUL), programming errors, a bad configuration.
    """
    import asyncpg  # only PostgreSQL's errors come here: the driver is loaded

    if isinstance(exc, OSError | TimeoutError):  # TimeoutError: asyncio's, before 3.11 too
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = str(exc.sqlstate or "")
        return state in _PG_TRANSIENT_STATES or state.startswith(_PG_TRANSIENT_CLASSES)
    if type(exc) is asyncpg.InterfaceError:  # its subclasses are client-side data and config errors
        text = str(exc).lower()
        return any(words in text for words in _PG_CLOSED_WORDS)
    return False


def contended_pg(exc: BaseException) -> bool:
    """Whether a PostgreSQL error is transient because another transaction was in the
    way (a serialization failure, a deadlock, a lock not available), not an outage."""
    return str(getattr(exc, "sqlstate", "") or "") in _PG_CONTENDED_STATES


def classify_sqlite(exc: BaseException) -> bool:
    """Whether a SQLite error is transient: the database is locked or busy, or the disk
    failed (I/O error, full). Not: integrity, a string or blob too big, a datatype
    mismatch, a closed store, bad SQL."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False  # IntegrityError, DataError, ProgrammingError, ...: the same every time
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_TRANSIENT_CODES  # the primary code of an extended one
    text = str(exc).lower()
    return any(words in text for words in _SQLITE_TRANSIENT_WORDS)


async def again_if_contended(write: Callable[[], Awaitable[T]]) -> T:
    """``write()``, again after a moment (up to :data:`CONTENDED_TRIES` in all) while
    another transaction is in its way (a deadlock, a serialization failure). Nothing of
    a transaction that failed so was written, so the write is whole again."""
    for attempt in range(1, CONTENDED_TRIES):
        try:
            return await write()
        except StoreError as exc:
            if not exc.contended:
                raise
        await asyncio.sleep(random.uniform(0.0, 0.002 * 2**attempt))
    return await write()
