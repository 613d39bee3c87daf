"""Coordination between runtimes: wake signals and execution locks.

Nothing here is needed for correctness: the store's compare-and-set and leases are the
source of truth. Signals cut wake latency (a runtime stops sleeping as soon as work
appears somewhere else) and locks cut wasted work (two runtimes do not run the same
handler). The seams are in :mod:`flowmonkey.coordination.protocols` (``WakeSignaler``,
``LockManager``, ``Lock``); implementations:

- :mod:`flowmonkey.coordination.local`: in one process (``LocalWakeSignaler``,
  ``LocalLockManager``).
- :mod:`flowmonkey.coordination.postgres`: ``PostgresWakeSignaler`` (LISTEN/NOTIFY).
- :mod:`flowmonkey.coordination.sqlite`: ``SQLiteWakeSignaler`` (a watched file next to
  the database, for the processes sharing one SQLite file).
- :mod:`flowmonkey.coordination.redis`: ``RedisWakeSignaler`` (pub/sub) and
  ``RedisLockManager`` (SET NX PX with a token, Lua release/extend, renewal).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from flowmonkey.coordination.protocols import Lock, LockManager, WakeCallback, WakeSignaler
from flowmonkey.errors import StoreError

if TYPE_CHECKING:
    from flowmonkey.engine import Engine

log = logging.getLogger("flowmonkey.runtime")


def default_owner() -> str:
    """A readable, unique owner id for leases and locks: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def signaler_for(store_url: str, *, redis: str | None = None) -> WakeSignaler | None:
    """The wake signaler that suits a deployment: Redis pub/sub when ``redis`` is given,
    LISTEN/NOTIFY for a ``postgresql://`` store, a watched wake file for a SQLite file;
    else None (``memory://`` and ``sqlite:///:memory:`` live in one process, where the
    engine's own wake listener is enough)."""
    if redis:
        from flowmonkey.coordination.redis import RedisWakeSignaler

        return RedisWakeSignaler(redis)
    scheme = store_url.split(":", 1)[0].lower()
    if scheme in ("postgres", "postgresql"):
        from flowmonkey.coordination.postgres import PostgresWakeSignaler

        return PostgresWakeSignaler(store_url)
    if scheme == "sqlite":
        from flowmonkey.coordination.sqlite import SQLiteWakeSignaler

        return SQLiteWakeSignaler.for_url(store_url)
    return None


async def lock_execution(
    manager: LockManager | None, execution_id: str, ttl: float
) -> tuple[bool, Lock | None]:
    """(busy, lock) for stepping an execution: busy when another runtime holds its lock;
    no lock without a manager or when it is unreachable (compare-and-set still protects)."""
    if manager is None:
        return False, None
    try:
        lock = await manager.acquire(f"execution:{execution_id}", ttl=ttl)
    except StoreError:
        log.warning("lock manager unavailable; stepping %s without a lock", execution_id)
        return False, None
    return lock is None, lock


def attach_signaler(engine: Engine, signaler: WakeSignaler) -> Callable[[], None]:
    """Forward ``engine``'s wake signals to other processes through ``signaler``.

    Use it in processes that change executions without running a Runtime (a CLI resume,
    a web app), so the runtimes elsewhere act at once; start the signaler first and stop
    it before exiting (stopping sends what is queued). Returns a detach function::

        signaler = signaler_for(store_url)
        if signaler is not None:
            await signaler.start(lambda *_: None)
            attach_signaler(engine, signaler)
        ...
        await signaler.stop()
    """
    return engine.add_wake_listener(signaler.notify)


__all__ = [
    "Lock",
    "LockManager",
    "WakeCallback",
    "WakeSignaler",
    "attach_signaler",
    "default_owner",
    "lock_execution",
    "signaler_for",
]
