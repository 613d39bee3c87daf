"""Group commit: many callers' step commits share one transaction.

``commit()`` hands its request to a :class:`GroupCommitter` and awaits a future. A single
writer task drains everything queued, hands the batch to the store's ``flush`` (one
transaction), and resolves each future with that request's own compare-and-set outcome.
When nothing else is queued a batch has one request, so a lone caller pays no delay;
under load the number of transactions (and awaits) per step falls with the batch size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from flowmonkey.errors import StoreError

T = TypeVar("T")
R = TypeVar("R")


class GroupCommitter(Generic[T, R]):
    """Serialises ``flush`` calls and batches the requests queued meanwhile.

    Args:
        flush: writes a batch in one transaction; returns one outcome per request, in
            order: a result, or an exception that only that request's caller receives.
        key: requests with the same key never share a batch (a later one waits for the
            next batch), so a batch's outcome per request is never ambiguous.
        max_batch: the most requests in one transaction.
        in_flight: how many batches may be written at once. More than one suits a
            server database, where row locks order competing transactions and one
            batch's round trip would otherwise leave the rest waiting.
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
        self._in_flight = in_flight
        self._writing: set[asyncio.Task[None]] = set()
        self._key = key
        self._max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait for the transaction that carries it."""
        if self._closed:
            raise StoreError("the store is closed")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._wakeup.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="flowmonkey-group-commit")
        return await future

    async def close(self) -> None:
        """Finish what is queued, then stop the writer task."""
        self._closed = True
        task, self._task = self._task, None
        if task is None:
            return
        self._wakeup.set()
        await task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._in_flight == 1:
                while self._queue:
                    await self._write(self._take())
            else:
                while self._queue and len(self._writing) < self._in_flight:
                    task = asyncio.create_task(self._write(self._take()))
                    self._writing.add(task)
                    task.add_done_callback(self._written)
            if self._closed and not self._queue and not self._writing:
                return

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writing.discard(task)
        self._wakeup.set()

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
            outcomes = await self._flush([item for item, _ in batch])
        except BaseException as exc:  # every caller in the batch learns of the failure
            failure = exc if isinstance(exc, Exception) else StoreError("the commit was interrupted")
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
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
