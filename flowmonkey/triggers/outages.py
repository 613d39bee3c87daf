"""Whether a store failure is an outage a sender should ride out (503) or not (500).

:class:`~flowmonkey.errors.StoreError` may say so itself (a ``transient`` attribute set
where the driver's error is translated); when it does not, only a connection-level
failure counts: the chain of causes holds an ``OSError`` or a timeout, a driver error of
SQLSTATE class 08 (connection), 57P (the server shutting down or starting), 53 (out of
connections or memory), 3D000 (the database is gone) or a serialization failure, a
SQLite file that is busy, locked, unreadable or cannot be opened, or the store was closed. Anything else (a value a store refuses, a constraint) will fail the
same way on every retry, so it must not invite one.
"""

from __future__ import annotations

from flowmonkey.errors import StoreError

_TRANSIENT_SQLSTATES = ("08", "57P", "53", "3D000", "40001", "40P01")
# SQLite's primary result codes: BUSY, LOCKED, IOERR, CANTOPEN.
_TRANSIENT_SQLITE_CODES = frozenset({5, 6, 10, 14})
# Driver errors without a SQLSTATE that mean the connection itself is gone (asyncpg's).
_CONNECTION_ERRORS = frozenset({"ConnectionDoesNotExistError", "InterfaceError"})
# A closed store raises a StoreError of its own, without a driver error behind it.
_CLOSED = ("is not open", "is closed")


def is_transient(exc: StoreError) -> bool:
    """Whether retrying what failed with ``exc`` later may succeed."""
    flag = getattr(exc, "transient", None)
    if isinstance(flag, bool):
        return flag
    if exc.__cause__ is None:
        return any(marker in exc.message for marker in _CLOSED)
    return any(_connection_level(cause) for cause in _causes(exc))


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(found) < 16:  # a cycle of causes is possible, if odd
        found.append(cause)
        cause = cause.__cause__ or cause.__context__
    return found


def _connection_level(cause: BaseException) -> bool:
    if isinstance(cause, OSError | TimeoutError):
        return True
    sqlstate = getattr(cause, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_TRANSIENT_SQLSTATES)
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF in _TRANSIENT_SQLITE_CODES
    return type(cause).__name__ in _CONNECTION_ERRORS
