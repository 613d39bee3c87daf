"""Counting PostgreSQL's executions from counters, not rows (migration 12).

Triggers note every change of a (flow, status) count as a row of
``execution_count_changes``; a count sums those and the folded ``execution_counts``: a
few rows, however many executions there are. :class:`CountFolder` moves the changes into
the counts every :data:`FOLD_EVERY` seconds while the store writes, so the changes stay
a short table. A read-only store writes nothing, and folds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from flowmonkey.errors import StoreError
from flowmonkey.stores._pg_sql import SQL

log = logging.getLogger("flowmonkey.store")

FOLD_EVERY = 2.0
"""Seconds between two folds of the count changes into the counts, while writing."""
FOLD_LOCK_KEY = 0x466C6F77436E  # "FlowCn": one folding process at a time

Execute = Callable[..., Awaitable[str]]


class CountFolder:
    """Folds the count changes in the background, at most every :data:`FOLD_EVERY` s.

    Args:
        execute: the store's ``_execute(what, query, *args)``.
    """

    def __init__(self, execute: Execute) -> None:
        self._execute = execute
        self._due = 0.0
        self._task: asyncio.Task[None] | None = None

    def wrote(self) -> None:
        """Told after a write that may have changed counts: folds if one is due."""
        now = time.monotonic()
        if now >= self._due and self._task is None:
            self._due = now + FOLD_EVERY
            self._task = asyncio.create_task(self._fold(), name="flowmonkey-fold-counts")

    async def _fold(self) -> None:
        try:
            await self._execute("fold_counts", SQL["fold_counts"], FOLD_LOCK_KEY)
        except StoreError as exc:  # the changes stay; the next fold takes them
            log.debug("folding the execution counts failed: %s", exc.message)
        finally:
            self._task = None

    async def close(self) -> None:
        """Wait for a fold under way (the pool is about to close)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
