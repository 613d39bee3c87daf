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
import time
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


class ExecutionLocks:
    """Locks executions before they are stepped, through a :class:`LockManager` that may
    be unreachable for a while: then steps go on without locks (compare-and-set still
    protects; locks only spare duplicate work), said in one line when it is lost and one
    when it answers again."""

    def __init__(self, manager: LockManager) -> None:
        self.manager = manager
        self._lost_at: float | None = None

    @property
    def available(self) -> bool:
        return self._lost_at is None

    async def lock(self, execution_id: str, ttl: float) -> tuple[bool, Lock | None]:
        """(busy, lock): busy when another runtime holds the execution's lock; no lock when
        the manager is unreachable."""
        try:
            lock = await self.manager.acquire(f"execution:{execution_id}", ttl=ttl)
        except StoreError as exc:
            if self._lost_at is None:
                self._lost_at = time.monotonic()
                log.warning(
                    "lock manager unavailable (%s); stepping without locks until it answers", exc.message
                )
            return False, None
        if self._lost_at is not None:
            log.info(
                "lock manager back after %.1fs; locking executions again", time.monotonic() - self._lost_at
            )
            self._lost_at = None
        return lock is None, lock


async def lock_execution(
    locks: ExecutionLocks | None, execution_id: str, ttl: float
) -> tuple[bool, Lock | None]:
    """(busy, lock) for stepping an execution; no lock without a lock manager."""
    if locks is None:
        return False, None
    return await locks.lock(execution_id, ttl)


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
