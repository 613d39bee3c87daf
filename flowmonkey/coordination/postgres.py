"""``PostgresWakeSignaler``: wake signals through PostgreSQL ``LISTEN/NOTIFY``.

One dedicated asyncpg connection LISTENs on a channel (``flowmonkey_wake`` by default)
and sends the coalesced ``pg_notify`` calls. An idle listener issues no queries. If the
connection drops, it reconnects (backing off from 0.5 s to 10 s while the server is away,
quietly: the runtime tells of the outage); signals queued meanwhile are sent once it is
back, and those other processes sent meanwhile are lost. The runtime's safety re-check
still finds the work, so correctness never depends on a signal arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from flowmonkey.coordination.batching import SignalBatcher, decode
from flowmonkey.coordination.protocols import WakeCallback
from flowmonkey.errors import StoreError
from flowmonkey.outage import Backoff
from flowmonkey.stores._errors import classify_pg

log = logging.getLogger("flowmonkey.coordination")

DEFAULT_CHANNEL = "flowmonkey_wake"


class PostgresWakeSignaler:
    """Cross-process wake signals over LISTEN/NOTIFY on the store's database.

    Args:
        dsn: a ``postgresql://`` URL (the same database as the store).
        channel: the NOTIFY channel; runtimes that should hear each other share it.
    """

    def __init__(self, dsn: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        self.dsn = dsn
        self.channel = channel
        self._batcher = SignalBatcher(self._send)
        self._connection: Any = None
        self._on_wake: WakeCallback | None = None
        self._lock = asyncio.Lock()
        self._watchdog: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False

    async def start(self, on_wake: WakeCallback) -> None:
        """Connect, LISTEN, and start sending queued signals."""
        self._on_wake = on_wake
        await self._connect()
        self._batcher.start()

    async def stop(self) -> None:
        """Send what is queued, stop listening and close the connection."""
        self._closing = True
        await self._batcher.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    def notify(self, execution_id: str, wake_at: datetime | None = None) -> None:
        """Queue a signal; it is sent (batched) by the background sender."""
        self._batcher.add(execution_id, wake_at)

    async def _connect(self) -> None:
        import asyncpg

        try:
            connection = await asyncpg.connect(self.dsn)
            connection.add_termination_listener(self._on_terminated)
            await connection.add_listener(self.channel, self._on_notification)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(
                f"could not LISTEN on {self.channel!r}: {exc}", transient=classify_pg(exc)
            ) from exc
        self._connection = connection
        self._connected.set()

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._on_wake is not None:
            decode(payload, self._batcher.sender_id, self._on_wake)

    def _on_terminated(self, _connection: Any) -> None:
        self._connected.clear()
        if not self._closing and self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        backoff = Backoff()
        while not self._closing:
            await asyncio.sleep(backoff.next())
            try:
                await self._connect()
            except StoreError as exc:
                log.debug("LISTEN on %r: reconnecting failed: %s", self.channel, exc.message)
                continue
            self._watchdog = None
            if self._on_wake is not None:
                # Signals sent while we were away are lost: look for work once.
                self._on_wake(None, None)
            return

    async def _send(self, payload: str) -> None:
        import asyncpg

        if not self._closing:
            await self._connected.wait()  # reconnecting: send it once back (stop() cancels this)
        async with self._lock:
            if self._connection is None or self._connection.is_closed():
                return
            try:
                await self._connection.execute("SELECT pg_notify($1, $2)", self.channel, payload)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise StoreError(
                    f"NOTIFY on {self.channel!r} failed: {exc}", transient=classify_pg(exc)
                ) from exc


__all__ = ["DEFAULT_CHANNEL", "PostgresWakeSignaler"]
