"""Which driver errors are transient (worth retrying): classified where they are translated.

The SQLite errors are real ones, raised by a real database; the PostgreSQL ones are the
driver's own exception classes (what a real server raises, by SQLSTATE, is in
tests/integration/test_store_transience.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import asyncpg.exceptions as pg
import pytest

from flowmonkey.errors import ConflictError, StoreError
from flowmonkey.stores._errors import classify_pg, classify_sqlite


def test_a_store_error_is_not_transient_unless_it_says_so() -> None:
    assert StoreError("x").transient is False
    assert StoreError("x", transient=True).transient is True
    assert ConflictError("lost").transient is False


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(104, "Connection reset by peer"),
        OSError(101, "Network is unreachable"),
        TimeoutError(),
        pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        pg.ConnectionFailureError("connection failure"),
        asyncpg.InterfaceError("connection is closed"),
        pg.CannotConnectNowError("the database system is starting up"),
        pg.TooManyConnectionsError("sorry, too many clients already"),
        pg.SerializationError("could not serialize access due to concurrent update"),
        pg.DeadlockDetectedError("deadlock detected"),
        pg.AdminShutdownError("terminating connection due to administrator command"),
        pg.CrashShutdownError("terminating connection because of crash of another server process"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_postgres_errors_that_pass_are_transient(exc: BaseException) -> None:
    assert classify_pg(exc) is True


@pytest.mark.parametrize(
    "exc",
    [
        pg.UniqueViolationError("duplicate key value violates unique constraint"),
        pg.NotNullViolationError("null value in column"),
        pg.StringDataRightTruncationError("value too long for type character varying(10)"),
        pg.InvalidTextRepresentationError("invalid input syntax for type integer"),
        pg.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00"),
        pg.UntranslatableCharacterError("unsupported Unicode escape sequence"),
        pg.ProgramLimitExceededError("index row size exceeds maximum"),
        pg.UndefinedTableError('relation "executions" does not exist'),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        pg.DataError("invalid input for query argument $1"),
        ValueError("not a database error at all"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_postgres_errors_that_repeat_are_not_transient(exc: BaseException) -> None:
    assert classify_pg(exc) is False


# -- SQLite: real errors from a real database ----------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Callable[[], sqlite3.Connection]]:
    path = tmp_path / "t.db"
    opened: list[sqlite3.Connection] = []

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=0.01)
        opened.append(conn)
        return conn

    setup = connect()
    setup.execute("PRAGMA journal_mode = WAL")
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    yield connect
    for conn in opened:
        conn.close()


def raised(fn: Callable[[], object]) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        fn()
    return caught.value


def test_a_locked_sqlite_database_is_transient(db: Callable[[], sqlite3.Connection]) -> None:
    holder, other = db(), db()
    holder.execute("BEGIN IMMEDIATE")
    exc = raised(lambda: other.execute("INSERT INTO t (body) VALUES ('x')"))
    assert "locked" in str(exc)
    assert classify_sqlite(exc) is True


def test_sqlite_errors_that_repeat_are_not_transient(db: Callable[[], sqlite3.Connection]) -> None:
    conn = db()
    conn.execute("INSERT INTO t (id, body) VALUES (1, 'x')")
    duplicate = raised(lambda: conn.execute("INSERT INTO t (id, body) VALUES (1, 'y')"))
    not_null = raised(lambda: conn.execute("INSERT INTO t (id, body) VALUES (2, NULL)"))
    mismatch = raised(lambda: conn.execute("INSERT INTO t (id, body) VALUES ('two', 'x')"))
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 100)
    too_big = raised(lambda: conn.execute("INSERT INTO t (body) VALUES (?)", ("x" * 1000,)))
    bad_sql = raised(lambda: conn.execute("SELEC 1"))
    assert "datatype mismatch" in str(mismatch) and "too big" in str(too_big)
    for exc in (duplicate, not_null, mismatch, too_big, bad_sql):
        assert classify_sqlite(exc) is False, exc


def test_a_disk_io_error_is_transient() -> None:
    # No portable way to make a disk fail under a test: the error as SQLite reports it.
    exc = sqlite3.OperationalError("disk I/O error")
    exc.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE
    assert classify_sqlite(exc) is True
    assert classify_sqlite(sqlite3.OperationalError("disk I/O error")) is True  # no code: by its words
