"""The step path's SQLite work on the event loop's own thread, when nothing makes it wait.

Handing a call to a database thread and hearing back costs more than most of what such a
call runs: a queue, a wake of the thread, the GIL passed back and forth at every
statement, a wake of the loop through its self-pipe, and caches cooled by the switches
(the bench, in process: about 170 us of CPU a step through the threads, about 110 inline).
So the writes a step makes (its commit; a create, a claim, a lease renewal: short
statements on indexes) and the read of one execution run here, on a connection of the
loop's thread. What could take long stays on the threads: listings, counts, history,
retention, fan-outs of many children.

Nothing here ever waits. The connection's ``busy_timeout`` is 0: when another connection
holds the write lock (another process, or this store's writer thread in a long write),
the call is not made here but handed to the thread, which waits its ``busy_timeout`` as
before. A write that fails here for any reason is rolled back and handed to the thread
too, where :func:`~._sqlite_ops.write_batch` gives each write its own outcome. And this
connection never checkpoints (``wal_autocheckpoint = 0``: a checkpoint writes and syncs
the database file): the writer thread does, after every :data:`CHECKPOINT_EVERY` seconds
of writes made here, and the writes made meanwhile go to that thread, behind the
checkpoint. (SQLite starts a WAL over only when a write finds all of it copied; writes
made here during every checkpoint would keep it growing for ever.)
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

from flowmonkey.stores import _fan_sqlite as fans
from flowmonkey.stores import _sqlite_commit as _commit
from flowmonkey.stores import _sqlite_ops as ops

CHECKPOINT_EVERY = 0.5
"""Seconds of inline writes between two checkpoints (the WAL grows by at most that much)."""

SHORT_WRITES = frozenset(
    {
        _commit.commit,
        ops.create,
        ops.claim,
        ops.renew,
        ops.release,
        ops.execute,
        ops.claim_signature,
        ops.enqueue_job,
        ops.heartbeat_job,
        ops.finish_job,
        fans.open_fan,
    }
)
"""The writes that may run inline: a few statements on indexes each, whatever the store holds."""

SHORT_READS = frozenset({ops.load, ops.get_job})


class Inline:
    """A connection used only on the thread that opened it (the event loop's)."""

    def __init__(self, path: str, pragmas: Sequence[str]) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, cached_statements=256)
        for pragma in (*pragmas, "PRAGMA busy_timeout = 0", "PRAGMA wal_autocheckpoint = 0"):
            self._conn.execute(pragma)
        self._thread = threading.get_ident()

    def here(self) -> bool:
        """Whether the caller is on the connection's thread (a store used from another
        loop's thread goes through the threads)."""
        return threading.get_ident() == self._thread

    def write(self, batch: list[ops.Write]) -> list[Any] | None:
        """The batch's results, committed in one transaction; None when it must go to the
        writer thread instead (the lock is taken, a write is not a short one, or it failed:
        nothing of it is then written)."""
        if not all(fn in SHORT_WRITES for fn, _ in batch):
            return None
        try:  # BEGIN IMMEDIATE fails at once when the lock is taken (busy_timeout 0)
            return ops.transaction(self._conn, ops.run_all, batch)
        except Exception:
            if self._conn.in_transaction:  # a failed COMMIT may leave it open
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            return None

    def read(self, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """(True, what ``fn`` read), or (False, None) when it must go to the reader thread."""
        if fn not in SHORT_READS:
            return False, None
        try:
            return True, fn(self._conn, *args)
        except sqlite3.OperationalError:  # e.g. busy while another connection recovers the WAL
            return False, None

    def close(self) -> None:
        self._conn.close()
