"""In-process coordination: a wake signaler and a lock manager for one event loop.

Useful for tests and for several runtimes in one process; across processes use
:mod:`flowmonkey.coordination.postgres` or :mod:`flowmonkey.coordination.redis`.
:class:`RenewingLock` is shared with the Redis lock manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from flowmonkey.coordination.protocols import WakeCallback

log = logging.getLogger("flowmonkey.coordination")


class LocalWakeHub:
    """The "channel" that :class:`LocalWakeSignaler` instances of one process share."""

    def __init__(self) -> None:
        self._listeners: dict[int, WakeCallback] = {}

    def deliver(self, sender: int, execution_id: str, wake_at: datetime | None) -> None:
        for listener_id, listener in list(self._listeners.items()):
            if listener_id != sender:
                asyncio.get_running_loop().call_soon(listener, execution_id, wake_at)

    def add(self, listener_id: int, listener: WakeCallback) -> None:
        self._listeners[listener_id] = listener

    def remove(self, listener_id: int) -> None:
        self._listeners.pop(listener_id, None)


_DEFAULT_HUB = LocalWakeHub()


class LocalWakeSignaler:
    """Signals between runtimes of one process (each hears the others, not itself)."""

    def __init__(self, hub: LocalWakeHub | None = None) -> None:
        self._hub = hub or _DEFAULT_HUB

    async def start(self, on_wake: WakeCallback) -> None:
        self._hub.add(id(self), on_wake)

    async def stop(self) -> None:
        self._hub.remove(id(self))

    def notify(self, execution_id: str, wake_at: datetime | None = None) -> None:
        self._hub.deliver(id(self), execution_id, wake_at)


class RenewingLock:
    """A granted lock that extends itself every ``ttl / 3`` until released.

    ``extend`` and ``drop`` are the backend's atomic "only if the token is still mine"
    operations. When an extension finds the lock gone, :attr:`lost` turns True and the
    holder should stop acting on the locked resource.
    """

    def __init__(
        self,
        *,
        key: str,
        token: str,
        fence: int,
        ttl: float,
        extend: Callable[[], Awaitable[bool]],
        drop: Callable[[], Awaitable[bool]],
        renew: bool = True,
    ) -> None:
        self._key, self._token, self._fence, self._ttl = key, token, fence, ttl
        self._extend, self._drop = extend, drop
        self._lost = False
        self._task = asyncio.create_task(self._renew()) if renew else None

    @property
    def key(self) -> str:
        return self._key

    @property
    def token(self) -> str:
        return self._token

    @property
    def fence(self) -> int:
        return self._fence

    @property
    def lost(self) -> bool:
        return self._lost

    async def extend(self) -> bool:
        """Push the expiry ``ttl`` seconds out; False (and :attr:`lost`) if not ours."""
        held = await self._extend()
        self._lost = self._lost or not held
        return held

    async def release(self) -> bool:
        """Stop renewing and give the lock up; False if it was no longer ours."""
        await self.stop_renewing()
        return await self._drop()

    async def stop_renewing(self) -> None:
        """Stop extending the lock; it then expires after its ttl unless released."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _renew(self) -> None:
        while not self._lost:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self.extend()
            except Exception:
                # A transient backend error: the lock may still expire; the next
                # extension (or the store's lease) tells.
                log.warning("could not extend lock %s", self._key, exc_info=True)


class LocalLockManager:
    """Locks in this process's memory, with the same expiry semantics as Redis."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._held: dict[str, tuple[str, float]] = {}
        self._fences = itertools.count(1)
        self._clock = clock

    async def acquire(self, key: str, *, ttl: float, renew: bool = True) -> RenewingLock | None:
        """Take ``key`` for ``ttl`` seconds, or None when someone else holds it."""
        now = self._clock()
        held = self._held.get(key)
        if held is not None and held[1] > now:
            return None
        token = secrets.token_hex(8)
        self._held[key] = (token, now + ttl)
        return RenewingLock(
            key=key,
            token=token,
            fence=next(self._fences),
            ttl=ttl,
            extend=lambda: self._extend(key, token, ttl),
            drop=lambda: self._drop(key, token),
            renew=renew,
        )

    async def _extend(self, key: str, token: str, ttl: float) -> bool:
        held = self._held.get(key)
        if held is None or held[0] != token or held[1] <= self._clock():
            return False
        self._held[key] = (token, self._clock() + ttl)
        return True

    async def _drop(self, key: str, token: str) -> bool:
        held = self._held.get(key)
        if held is None or held[0] != token:
            return False
        del self._held[key]
        return held[1] > self._clock()

    async def close(self) -> None:
        self._held.clear()


__all__ = ["LocalLockManager", "LocalWakeHub", "LocalWakeSignaler", "RenewingLock"]
