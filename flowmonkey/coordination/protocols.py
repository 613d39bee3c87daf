"""The coordination seams a runtime depends on: wake signals between processes, and
execution locks. Implementations live in the sibling modules; a runtime takes any object
that fits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable

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
