"""A sqlite3 connection owned by one thread of its own (the SQLite store has two: the
writer and the reader)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flowmonkey.errors import StoreError

T = TypeVar("T")


class Connection:
    """A sqlite3 connection owned by one thread; ``run`` executes a function there.

    A bare thread fed by a queue and answering through ``call_soon_threadsafe`` costs
    about half of what ``run_in_executor`` does per call, and every store operation is
    one call.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=f"flowmonkey-sqlite-{name}", daemon=True)
        self._conn: sqlite3.Connection | None = None

    async def open(self, path: str, pragmas: list[str], *, uri: bool = False) -> None:
        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(path, isolation_level=None, cached_statements=256, uri=uri)
            for pragma in pragmas:
                conn.execute(pragma)
            return conn

        self._thread.start()
        self._conn = await self._submit(connect)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError("the SQLite store is not open (use `async with store:` or `await store.open()`)")
        return await self._submit(functools.partial(fn, conn, *args))

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._submit(conn.close)
        if self._thread.is_alive():
            self._calls.put(None)

    async def _submit(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((fn, future, loop))
        return await future

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            fn, future, loop = call
            try:
                outcome: tuple[bool, Any] = (True, fn())
            except BaseException as exc:  # handed to the caller, whatever it is
                outcome = (False, exc)
            # RuntimeError: the loop closed without closing the store, so nobody waits.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, outcome)


_Call = tuple[Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.cancelled():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
