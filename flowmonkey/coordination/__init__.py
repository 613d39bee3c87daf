"""Coordination between runtimes: wake signals and execution locks.

Nothing here is needed for correctness: the store's compare-and-set and leases are the
source of truth. Signals cut wake latency (a runtime stops sleeping as soon as work
appears somewhere else) and locks cut wasted work (two runtimes do not run the same
handler). Implementations:

- :mod:`flowmonkey.coordination.local`: in one process (``LocalWakeSignaler``,
  ``LocalLockManager``).
- :mod:`flowmonkey.coordination.postgres`: ``PostgresWakeSignaler`` (LISTEN/NOTIFY).
- :mod:`flowmonkey.coordination.sqlite`: ``SQLiteWakeSignaler`` (a watched file next to
  the database, for the processes sharing one SQLite file).
- :mod:`flowmonkey.coordination.redis`: ``RedisWakeSignaler`` (pub/sub) and
  ``RedisLockManager`` (SET NX PX with a token, Lua release/extend, renewal).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from flowmonkey.engine import Engine

WakeCallback = Callable[[str | None, datetime | None], None]
"""``callback(execution_id, wake_at)``; ``execution_id`` None means "look for work"."""


@runtime_checkable
class WakeSignaler(Protocol):
    """Carries "this execution became runnable (or scheduled a wake)" between processes."""

    async def start(self, on_wake: WakeCallback) -> None:
        """Begin listening; ``on_wake`` is called for every signal from another process."""
        ...

    async def stop(self) -> None:
        """Stop listening and flush what is still queued to send."""
        ...

    def notify(self, execution_id: str, wake_at: datetime | None = None) -> None:
        """Queue a signal for other processes (never blocks; signals are coalesced)."""
        ...


@runtime_checkable
class Lock(Protocol):
    """A held lock. ``token`` identifies the holder; ``fence`` grows with every grant."""

    @property
    def key(self) -> str: ...

    @property
    def token(self) -> str: ...

    @property
    def fence(self) -> int: ...

    @property
    def lost(self) -> bool:
        """True once a renewal found the lock taken by someone else (or expired)."""
        ...

    async def release(self) -> bool:
        """Give the lock up; False if it was no longer ours."""
        ...


@runtime_checkable
class LockManager(Protocol):
    """Grants short-lived exclusive locks by key, renewed while held."""

    async def acquire(self, key: str, *, ttl: float, renew: bool = True) -> Lock | None:
        """Take ``key`` for ``ttl`` seconds (renewed in the background while ``renew``),
        or return None at once when another holder has it."""
        ...

    async def close(self) -> None:
        """Stop renewals and drop connections this manager opened."""
        ...


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
    "signaler_for",
]
