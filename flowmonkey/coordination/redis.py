"""Redis coordination: ``RedisWakeSignaler`` (pub/sub) and ``RedisLockManager``.

Both are optional optimisations on top of the store's compare-and-set and leases:
signals cut wake latency across machines, locks stop two runtimes from running the same
handler at once. ``redis.asyncio`` is imported lazily (``pip install 'flowmonkey[redis]'``).

Locks are ``SET key token NX PX ttl``; release and extend are Lua scripts that act only
while the stored token is the caller's, so a holder whose lock expired can never drop or
extend the next holder's lock. Every grant also returns a fence number (``INCR``) that
only grows, for resources that can check it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from datetime import datetime
from typing import Any

from flowmonkey.coordination.batching import SignalBatcher, decode
from flowmonkey.coordination.local import RenewingLock
from flowmonkey.coordination.protocols import WakeCallback
from flowmonkey.errors import StoreError

log = logging.getLogger("flowmonkey.coordination")

DEFAULT_CHANNEL = "flowmonkey:wake"
DEFAULT_PREFIX = "flowmonkey:lock:"
_RECONNECT_DELAY = 1.0
_SUBSCRIBE_TIMEOUT = 10.0

_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('incr', KEYS[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def _client(url_or_client: Any) -> tuple[Any, bool]:
    """A ``redis.asyncio`` client for a URL (owned) or the given client (borrowed)."""
    if not isinstance(url_or_client, str):
        return url_or_client, False
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise StoreError("Redis needs the redis package: pip install 'flowmonkey[redis]'") from exc
    return aioredis.from_url(url_or_client, decode_responses=True), True


class RedisLockManager:
    """Exclusive, expiring, self-renewing locks on Redis.

    Args:
        redis: a ``redis://`` URL or an existing ``redis.asyncio`` client (never closed here).
        prefix: prepended to every lock key.
        owner: a readable prefix of the tokens (e.g. the runtime's owner id).
    """

    def __init__(self, redis: Any, *, prefix: str = DEFAULT_PREFIX, owner: str | None = None) -> None:
        self._redis, self._owns = _client(redis)
        self.prefix = prefix
        self.owner = owner or secrets.token_hex(4)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self._extend = self._redis.register_script(_EXTEND)
        self._locks: set[RenewingLock] = set()

    async def acquire(self, key: str, *, ttl: float, renew: bool = True) -> RenewingLock | None:
        """Take ``key`` for ``ttl`` seconds (renewed every ``ttl / 3`` while ``renew``),
        or None at once when another holder has it."""
        token = f"{self.owner}:{secrets.token_hex(8)}"
        name = self.prefix + key
        fence = int(await self._call(self._acquire, [name, name + ":fence"], [token, _ms(ttl)]))
        if not fence:
            return None
        lock = RenewingLock(
            key=key,
            token=token,
            fence=fence,
            ttl=ttl,
            extend=lambda: self._extend_token(name, token, ttl),
            drop=lambda: self._drop(lock, name, token),
            renew=renew,
        )
        self._locks.add(lock)
        return lock

    async def release(self, key: str, token: str) -> bool:
        """Release ``key`` only if ``token`` holds it (a non-owner is refused: False)."""
        return bool(await self._call(self._release, [self.prefix + key], [token]))

    async def holder(self, key: str) -> str | None:
        """The token holding ``key`` now, or None."""
        value = await self._redis.get(self.prefix + key)
        return str(value) if value is not None else None

    async def close(self) -> None:
        """Stop every renewal (locks then expire on their own) and close an owned client."""
        for lock in list(self._locks):
            await lock.stop_renewing()
        self._locks.clear()
        if self._owns:
            await self._redis.aclose()

    async def _extend_token(self, name: str, token: str, ttl: float) -> bool:
        return bool(await self._call(self._extend, [name], [token, _ms(ttl)]))

    async def _drop(self, lock: RenewingLock, name: str, token: str) -> bool:
        self._locks.discard(lock)
        return bool(await self._call(self._release, [name], [token]))

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        import redis.exceptions

        try:
            return await script(keys=keys, args=args)
        except redis.exceptions.RedisError as exc:
            raise StoreError(f"Redis lock operation on {keys[0]!r} failed: {exc}") from exc


class RedisWakeSignaler:
    """Cross-process wake signals over Redis pub/sub.

    Args:
        redis: a ``redis://`` URL or an existing ``redis.asyncio`` client (never closed here).
        channel: runtimes that should hear each other share it.
    """

    def __init__(self, redis: Any, *, channel: str = DEFAULT_CHANNEL) -> None:
        self._redis, self._owns = _client(redis)
        self.channel = channel
        self._batcher = SignalBatcher(self._send)
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, on_wake: WakeCallback) -> None:
        """Subscribe (returns once subscribed) and start sending queued signals."""
        self._listener = asyncio.create_task(self._listen(on_wake))
        self._batcher.start()
        try:
            await asyncio.wait_for(self._subscribed.wait(), _SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            await self.stop()
            raise StoreError(f"could not subscribe to Redis channel {self.channel!r}") from None

    async def stop(self) -> None:
        """Send what is queued, unsubscribe and close an owned client."""
        await self._batcher.stop()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._owns:
            await self._redis.aclose()

    def notify(self, execution_id: str, wake_at: datetime | None = None) -> None:
        """Queue a signal; it is published (batched) by the background sender."""
        self._batcher.add(execution_id, wake_at)

    async def _send(self, payload: str) -> None:
        await self._redis.publish(self.channel, payload)

    async def _listen(self, on_wake: WakeCallback) -> None:
        import redis.exceptions

        first = True
        lost_at: float | None = None  # one line when lost, one when back: no log per retry
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                if lost_at is not None:
                    log.info("Redis subscription back after %.1fs", time.monotonic() - lost_at)
                    lost_at = None
                if not first:
                    on_wake(None, None)  # signals sent while we were away are lost
                first = False
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        decode(str(message["data"]), self._batcher.sender_id, on_wake)
            except redis.exceptions.RedisError as exc:
                if lost_at is None:
                    lost_at = time.monotonic()
                    log.warning("Redis subscription lost (%s); retrying every %gs", exc, _RECONNECT_DELAY)
                await asyncio.sleep(_RECONNECT_DELAY)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


__all__ = ["DEFAULT_CHANNEL", "DEFAULT_PREFIX", "RedisLockManager", "RedisWakeSignaler"]
