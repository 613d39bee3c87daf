"""``SQLiteWakeSignaler``: wake signals between processes that share one SQLite file.

The sending side appends one line per batch of signals (the JSON messages that
LISTEN/NOTIFY and Redis carry too) to a small file next to the database, ``<db>.wake``.
The listening side watches that file with watchfiles (inotify on Linux: the kernel
reports the append, nothing polls the file or the database) and reads the lines added
since it last looked. Once the file passes :data:`MAX_BYTES`, the next writer empties it
first; a listener that finds the file shorter than where it stopped reading may have
missed signals, so it looks for work once. As everywhere, signals only cut latency: the
runtimes' re-check still finds the work when a signal is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import datetime
from pathlib import Path

from flowmonkey.coordination.batching import SignalBatcher, decode, encode
from flowmonkey.coordination.protocols import WakeCallback
from flowmonkey.errors import StoreError

log = logging.getLogger("flowmonkey.coordination")

SUFFIX = ".wake"
MAX_BYTES = 1 << 20
"""Past this size a writer empties the wake file (at ~100 bytes a line: 10,000 batches)."""
_STEP_MS = 20  # watchfiles groups the changes of this long into one report
_READY_TIMEOUT = 5.0
_HELLO_EVERY = 0.1
_STOP_TIMEOUT = 5.0


class SQLiteWakeSignaler:
    """Cross-process wake signals for the processes using one SQLite database file.

    Args:
        database: the database file's path (the wake file is this path + ``.wake``).
    """

    def __init__(self, database: str | os.PathLike[str]) -> None:
        self.path = Path(f"{os.path.abspath(database)}{SUFFIX}")
        self._batcher = SignalBatcher(self._send)
        self._fd: int | None = None
        self._offset = 0
        self._partial = b""
        self._on_wake: WakeCallback | None = None
        self._listener: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._seen = asyncio.Event()

    @classmethod
    def for_url(cls, url: str) -> SQLiteWakeSignaler | None:
        """The signaler of a ``sqlite:///`` store URL; None for ``:memory:`` (one process)."""
        from flowmonkey.stores.sqlite import parse_sqlite_url

        path, _ = parse_sqlite_url(url)
        return None if path == ":memory:" else cls(path)

    async def start(self, on_wake: WakeCallback) -> None:
        """Open the wake file and return once its watcher reports changes to it."""
        self._fd = _open(self.path)
        self._offset, self._partial = os.fstat(self._fd).st_size, b""
        self._on_wake = on_wake
        self._stop, self._seen = asyncio.Event(), asyncio.Event()
        self._listener = asyncio.create_task(self._listen(), name=f"flowmonkey-wake-{self.path.name}")
        self._batcher.start()
        await self._handshake()

    async def stop(self) -> None:
        """Write what is queued, stop watching and close the file."""
        await self._batcher.stop()
        self._stop.set()
        if self._listener is not None:
            try:
                await asyncio.wait_for(self._listener, _STOP_TIMEOUT)
            except TimeoutError:
                log.warning("the watcher of %s did not stop in time", self.path)
            self._listener = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def notify(self, execution_id: str, wake_at: datetime | None = None) -> None:
        """Queue a signal; it is appended (batched) by the background sender."""
        self._batcher.add(execution_id, wake_at)

    # -- sending ----------------------------------------------------------------------

    async def _send(self, payload: str) -> None:
        self._append(payload)

    def _append(self, payload: str) -> None:
        # Appending a line to the page cache takes microseconds: cheaper than a hop to
        # a thread. O_APPEND keeps lines of several processes whole. Emptying before
        # (not after) appending never loses the line being sent.
        if self._fd is None:
            return
        if os.fstat(self._fd).st_size > MAX_BYTES:
            os.ftruncate(self._fd, 0)
        os.write(self._fd, payload.encode() + b"\n")

    async def _handshake(self) -> None:
        """Append hellos (messages naming no execution: they wake nobody) until the
        watcher reports one, so a signal sent after ``start`` returns is never missed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_TIMEOUT
        await asyncio.sleep(0)  # let the listener start watching (the hellos check it did)
        while not self._seen.is_set():
            if self._listener is None or self._listener.done() or loop.time() > deadline:
                log.warning("not watching %s: signals from other processes wait for the re-check", self.path)
                return
            self._append(encode(self._batcher.sender_id, []))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._seen.wait(), _HELLO_EVERY)

    # -- listening --------------------------------------------------------------------

    async def _listen(self) -> None:
        from watchfiles import awatch

        try:
            async for _ in awatch(
                self.path, watch_filter=None, step=_STEP_MS, stop_event=self._stop, recursive=False
            ):
                self._read_new()
                self._seen.set()
        except Exception:  # e.g. no inotify watches left: signals are an optimisation
            log.exception("watching %s stopped", self.path)

    def _read_new(self) -> None:
        """Hand every complete line appended since the last read to ``decode``."""
        if self._fd is None or self._on_wake is None:
            return
        size = os.fstat(self._fd).st_size
        if size < self._offset:
            # Emptied by a writer: what was appended before that is unknown.
            self._offset, self._partial = 0, b""
            self._on_wake(None, None)
        data = os.pread(self._fd, size - self._offset, self._offset)
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            if line:
                decode(line.decode(errors="replace"), self._batcher.sender_id, self._on_wake)


def _open(path: Path) -> int:
    """The wake file, created if needed, open for appending and reading."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise StoreError(f"cannot open the wake file {path}: {exc.strerror}") from exc


__all__ = ["MAX_BYTES", "SUFFIX", "SQLiteWakeSignaler"]
