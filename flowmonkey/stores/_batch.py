"""Group commit: many callers' step commits share one transaction.

``commit()`` hands its request to a :class:`GroupCommitter`. When no batch is being
written, the request is written at once, alone, in the caller's own task: a lone caller
pays nothing for batching. Otherwise it waits in a queue; when a batch finishes, the
next one takes everything queued meanwhile, is handed to the store's ``flush`` (one
transaction), and each caller gets its own request's outcome (its own compare-and-set
result, or its own error). Under load the transactions, and the awaits, per step fall
with the batch size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from flowmonkey.errors import StoreError

T = TypeVar("T")
R = TypeVar("R")

BatchListener = Callable[[int, float], None]
"""Told of each batch written: how many requests, and how many seconds it took."""


class GroupCommitter(Generic[T, R]):
    """Limits how many ``flush`` calls run at once and batches the requests queued meanwhile.

    Args:
        flush: writes a batch in one transaction; returns one outcome per request, in
            order: a result, or an exception that only that request's caller receives.
        key: requests with the same key never share a batch (a later one waits for the
            next batch), so a batch's outcome per request is never ambiguous.
        max_batch: the most requests in one transaction.
        in_flight: how many batches may be written at once. With more than one, a
            request that finds a slot free is written alone: more statements, each
            smaller (see PostgresStore for what that cost).
    """

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Sequence[R | Exception]]],
        *,
        key: Callable[[T], str] | None = None,
        max_batch: int = 256,
        in_flight: int = 1,
    ) -> None:
        self._flush = flush
        self._key = key
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._active = 0  # batches being written
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.listener: BatchListener | None = None

    async def submit(self, item: T) -> R:
        """Write ``item`` in the next transaction and return its outcome."""
        if self._closed:
            raise StoreError("the store is closed")
        if not self._queue and self._active < self._in_flight:
            return await self._write_alone(item)
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        return await future

    async def close(self) -> None:
        """Refuse new requests and wait until everything queued is written."""
        self._closed = True
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _write_alone(self, item: T) -> R:
        self._active += 1
        try:
            (outcome,) = await self._timed_flush([item])
        finally:
            self._active -= 1
            self._drain()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _timed_flush(self, items: list[T]) -> Sequence[R | Exception]:
        listener = self.listener
        if listener is None:
            return await self._flush(items)
        started = time.perf_counter()
        outcomes = await self._flush(items)
        listener(len(items), time.perf_counter() - started)
        return outcomes

    def _drain(self) -> None:
        """Start batches of what is queued while fewer than ``in_flight`` are written."""
        while self._queue and self._active < self._in_flight:
            self._active += 1
            task = asyncio.create_task(self._write(self._take()), name="flowmonkey-group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        if self._key is None:
            head, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            return head
        batch: list[tuple[T, asyncio.Future[R]]] = []
        later: list[tuple[T, asyncio.Future[R]]] = []
        keys: set[str] = set()
        for entry in self._queue:
            key = self._key(entry[0])
            if key in keys or len(batch) >= self._max_batch:
                later.append(entry)
            else:
                keys.add(key)
                batch.append(entry)
        self._queue = later
        return batch

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._timed_flush([item for item, _ in batch])
        except BaseException as exc:  # every caller in the batch learns of the failure
            failure = exc if isinstance(exc, Exception) else StoreError("the commit was interrupted")
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            self._release_soon()
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        self._release_soon()  # after the answers, so it runs after the callers wake

    def _release_soon(self) -> None:
        """Free this batch's slot only after the callers it answers have run on.

        Their tasks resume in the loop's next pass and most submit their next commit
        right away; holding the slot until then lets those commits join one batch
        instead of the first of them writing alone and the rest queueing behind it.
        """

        def release() -> None:
            self._active -= 1
            self._drain()

        asyncio.get_running_loop().call_soon(release)
