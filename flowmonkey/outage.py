"""Store outages as a long-running part lives through them: told in two log lines, waited
out with a bounded number of retries.

A :class:`StoreWatch` is told of every transient store error (a lost connection, a server
shutting down, a serialization failure) and of the calls that succeed, and logs one line
when the store is lost, at most one every ``remind_every`` while it stays lost, and one
when it answers again, with how long it was gone; never a traceback, and never a line per
failed call. Parts that cannot go on without the store wait for it (:meth:`until_back`)
while one of them probes it, pausing between probes by a :class:`Backoff` (0.5 s doubling
to 10 s, with jitter), so a worker asks a dead server a few times a minute rather than in a
hot loop, and finds it again within about 10 s of its return.

    watch = StoreWatch("postgresql://...", log)
    async with watch.call():          # a transient StoreError inside says "lost", success "back"
        await store.claim(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from flowmonkey.errors import StoreError

__all__ = ["Backoff", "StoreWatch"]

T = TypeVar("T")

REMIND_EVERY = 10.0
"""Seconds between the lines that say the store is still lost."""


class Backoff:
    """Exponential delays with jitter: ``first``, doubling up to ``cap``; each delay is
    drawn from its upper half, so workers that lost the store together do not retry in
    step. The cap bounds both the rate of retries in a long outage and how late after the
    store's return the next retry comes."""

    def __init__(
        self, first: float = 0.5, cap: float = 10.0, *, jitter: Callable[[], float] = random.random
    ) -> None:
        self.first = first
        self.cap = cap
        self._jitter = jitter
        self._next = first

    def next(self) -> float:
        """The delay before the next try (and the one after it doubles)."""
        delay, self._next = self._next, min(self.cap, self._next * 2)
        return delay * (0.5 + self._jitter() / 2)

    def reset(self) -> None:
        self._next = self.first

    async def pause(self, stopped: asyncio.Event) -> None:
        """Sleep the next delay, unless ``stopped`` is set first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.next()):
                await stopped.wait()


class StoreWatch:
    """Whether the store answers, as the calls made through it found; logs the changes.

    Args:
        name: the store as shown in the log (its URL, the password masked).
        log: where the lines go.
        on_lost: called when the store is lost (e.g. to wake the part that probes it).
        remind_every: seconds between "still lost" lines.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        name: str,
        log: logging.Logger,
        *,
        on_lost: Callable[[], None] | None = None,
        remind_every: float = REMIND_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._log = log
        self._on_lost = on_lost
        self._remind_every = remind_every
        self._clock = clock
        self._back = asyncio.Event()
        self._back.set()
        self._epoch = 0  # one per outage: a call that began before it cannot end it
        self._since = 0.0
        self._said = 0.0
        self._failures = 0

    @property
    def down(self) -> bool:
        return not self._back.is_set()

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        """Run a store call: a transient :class:`StoreError` escaping it means the store is
        lost (it is re-raised), unless another transaction caused it (``contended``);
        returning means the store answers, if the call began after the store was lost
        (one that was on its way before says nothing about now)."""
        epoch = self._epoch
        try:
            yield
        except StoreError as exc:
            if exc.transient and not exc.contended:  # a deadlock: the store did answer
                self.lost(exc)
            raise
        if epoch == self._epoch:
            self.answered()

    async def attempt(self, call: Awaitable[T]) -> T | None:
        """Await ``call`` through :meth:`call`; None if a transient error interrupted it
        (anything else it raises goes on)."""
        try:
            async with self.call():
                return await call
        except StoreError as exc:
            if exc.transient:
                return None
            raise

    def lost(self, exc: StoreError) -> None:
        """A call failed with a transient error: the store is lost (or still is)."""
        now = self._clock()
        self._failures += 1
        if not self.down:
            self._back.clear()
            self._epoch += 1
            self._since = self._said = now
            self._log.warning(
                "store %s unavailable: %s; waiting for it (retrying with backoff)", self.name, _reason(exc)
            )
            if self._on_lost is not None:
                self._on_lost()
        elif now - self._said >= self._remind_every:
            self._said = now
            self._log.warning(
                "store %s still unavailable after %.0fs (%d failed calls): %s",
                self.name,
                now - self._since,
                self._failures,
                _reason(exc),
            )

    def answered(self) -> None:
        """A call succeeded: if the store was lost, it is back."""
        if not self.down:
            return
        gone = self._clock() - self._since
        self._log.warning(
            "store %s available again after %.1fs (%d failed calls)", self.name, gone, self._failures
        )
        self._failures = 0
        self._back.set()

    async def until_back(self, stopped: asyncio.Event | None = None) -> bool:
        """Wait until the store answers (True), or ``stopped`` is set while it does not (False)."""
        if stopped is None:
            await self._back.wait()
            return True
        back = asyncio.ensure_future(self._back.wait())
        stop = asyncio.ensure_future(stopped.wait())
        try:
            await asyncio.wait({back, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            back.cancel()
            stop.cancel()
        return self._back.is_set()


def _reason(exc: StoreError) -> str:
    """The driver's words, without the operation and the URL the message starts with."""
    cause = exc.__cause__
    text = str(cause) if cause is not None and str(cause) else exc.message
    return text.splitlines()[0] if text else type(cause or exc).__name__
