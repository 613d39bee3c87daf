"""Hearing that another process changed the store: the wake signals the console already
gets (PostgreSQL NOTIFY, the SQLite wake file), passed on to whoever watches the store.

With a worker, the console's runtime owns the signaler; :class:`Overheard` stands in for
it, so the runtime hears every signal as before and the console's watchers hear it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flowmonkey import WakeSignaler

log = logging.getLogger(__name__)

WakeCallback = Callable[[str | None, datetime | None], None]


class StoreChanges:
    """The listeners to call when a signal says the store changed (cheap: they mark stale)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def add(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every signal; returns the remove."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def heard(self, execution_id: str | None = None, wake_at: datetime | None = None) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("a store change listener failed")


class Overheard:
    """A :class:`WakeSignaler` that tells :class:`StoreChanges` of every signal it hears."""

    def __init__(self, signaler: WakeSignaler, changes: StoreChanges) -> None:
        self._signaler = signaler
        self._changes = changes

    async def start(self, on_wake: WakeCallback) -> None:
        def both(execution_id: str | None, wake_at: datetime | None) -> None:
            on_wake(execution_id, wake_at)
            self._changes.heard()

        await self._signaler.start(both)

    async def stop(self) -> None:
        await self._signaler.stop()

    def notify(self, execution_id: str, wake_at: datetime | None = None) -> None:
        self._signaler.notify(execution_id, wake_at)
