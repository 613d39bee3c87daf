"""Coalescing of wake signals into few messages, and their wire format.

Engines signal from synchronous listeners, possibly hundreds of times a second; the
sender queues them and one task sends them in batches (one message per up to
``MAX_PER_MESSAGE`` executions, the latest ``wake_at`` of each), which keeps
PostgreSQL NOTIFY payloads under their 8000-byte limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from flowmonkey.coordination.protocols import WakeCallback
from flowmonkey.errors import StoreError

log = logging.getLogger("flowmonkey.coordination")

MAX_PER_MESSAGE = 80


def encode(sender: str, signals: list[tuple[str, datetime | None]]) -> str:
    """One message: who sent it and which executions (with their wake time)."""
    entries = [[execution_id, wake_at.isoformat() if wake_at else None] for execution_id, wake_at in signals]
    return json.dumps({"s": sender, "w": entries}, separators=(",", ":"))


def decode(payload: str, me: str, on_wake: WakeCallback) -> None:
    """Call ``on_wake`` for each signal of a message not sent by ``me``; a malformed
    message still wakes the listener (once, for "look for work")."""
    try:
        message: dict[str, Any] = json.loads(payload)
        if message.get("s") == me:
            return
        signals = [(str(i), datetime.fromisoformat(w) if w else None) for i, w in message["w"]]
    except (ValueError, KeyError, TypeError):
        log.warning("malformed wake signal %.80r", payload)
        on_wake(None, None)
        return
    for execution_id, wake_at in signals:
        on_wake(execution_id, wake_at)


class SignalBatcher:
    """Queues signals and sends them from one background task through ``send``."""

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self.sender_id = secrets.token_hex(6)
        self._send = send
        self._pending: dict[str, datetime | None] = {}
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def add(self, execution_id: str, wake_at: datetime | None) -> None:
        # "runnable now" (None) wins over a scheduled time for the same execution.
        if execution_id in self._pending and self._pending[execution_id] is None:
            return
        self._pending[execution_id] = wake_at
        self._ready.set()

    async def stop(self) -> None:
        """Send what is queued, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            await self._flush()

    async def _flush(self) -> None:
        while self._pending:
            batch = list(self._pending.items())[:MAX_PER_MESSAGE]
            for execution_id, _ in batch:
                del self._pending[execution_id]
            try:
                await self._send(encode(self.sender_id, batch))
            except StoreError as exc:  # the connection went away: the runtime tells of outages
                level = logging.DEBUG if exc.transient else logging.WARNING
                log.log(level, "could not send %d wake signal(s): %s", len(batch), exc.message)
            except Exception:
                # Signals are an optimisation: the receivers' re-check still finds the work.
                log.warning("could not send %d wake signal(s)", len(batch), exc_info=True)


__all__ = ["MAX_PER_MESSAGE", "SignalBatcher", "decode", "encode"]
