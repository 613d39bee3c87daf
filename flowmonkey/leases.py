"""``Leases``: the claims a runtime holds, kept alive, given back, or left to lapse.

A claim's lease is renewed every ``lease / 3`` while its execution is stepped; it is
given back when the stepping ends, and after a failure it is kept, to lapse: that is the
failure's back-off (tracked here, as the store leaves a runtime's own leases out of
``next_wake_at``). An execution *parked* after a store error that would repeat is renewed
and never stepped again while the runtime runs (a graceful stop gives it back). While the store is lost nothing is
renewed or given back: the leases lapse on their own if the outage outlasts them, and
each step renews its own when the store answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol

from flowmonkey.errors import ConflictError, StoreError
from flowmonkey.outage import StoreWatch
from flowmonkey.stores.base import ClaimStore, ExecutionStore


class LeaseStore(ClaimStore, ExecutionStore, Protocol):
    """Claims, and the executions they are of (to tell a lost lease from one that ended)."""


__all__ = ["Leases"]

log = logging.getLogger("flowmonkey.runtime")


class Leases:
    """The leases of one runtime's claims (see the module docstring)."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        owner: str,
        lease: timedelta,
        now: Callable[[], datetime],
        watch: StoreWatch,
    ) -> None:
        self.store = store
        self.owner = owner
        self.lease = lease
        self._now = now
        self._watch = watch
        self.lost: set[str] = set()
        """Claims another runtime took over (their leases lapsed): stop stepping them."""
        self.parked: set[str] = set()
        """Executions that failed for good in the store: held, never stepped again."""
        self._backing_off: dict[str, datetime] = {}
        self._to_release: list[str] = []
        self._releasing: asyncio.Future[None] | None = None

    async def keep_renewed(self, stepping: Callable[[], Iterable[str]]) -> None:
        """Renew the leases of what is ``stepping`` (and of the parked) every ``lease / 3``, for ever."""
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            ids = sorted(set(stepping()) | self.parked)
            if not ids or self._watch.down:
                continue  # idle: no query; the store lost: steps renew their own when it is back
            try:
                held = await self._renew(ids)
            except StoreError as exc:
                if not exc.transient:
                    log.warning(
                        "runtime %s: could not renew %d lease(s): %s", self.owner, len(ids), exc.message
                    )
                continue
            # A claim given back while the renewal was on its way is done, not lost (a batch
            # of 50 that finished meanwhile was once logged as 50 leases lost).
            still = set(stepping())
            missing = (set(ids) - set(held)) & (still | self.parked)
            lost = await self._not_ended(missing) if missing else missing
            if lost:
                log.warning(
                    "runtime %s lost the lease of %d execution(s): taken over by another runtime",
                    self.owner,
                    len(lost),
                )
            self.lost |= lost & set(stepping())  # (one that finished meanwhile is done with)
            self.parked -= missing  # lost, or ended: nothing of ours to renew

    async def _not_ended(self, missing: set[str]) -> set[str]:
        """Of the executions whose lease was missing, those still active: the others ended
        (a commit that ends an execution gives its lease back, and it may land while the
        renewal is on its way, before its stepping task has heard it; a cancel from
        elsewhere ends it too). Rare, so one read each."""
        try:
            async with self._watch.call():
                found = [await self.store.get_execution(i) for i in sorted(missing)]
        except StoreError:
            return missing  # cannot tell: the conservative answer
        return {e.id for e in found if e is not None and not e.is_terminal}

    async def held_after_outage(self, execution_id: str, stopped: asyncio.Event) -> bool:
        """Wait until the store answers again (False if ``stopped`` first), then renew the
        execution's lease: whether this runtime still holds it."""
        while await self._watch.until_back(stopped):
            try:
                return bool(await self._renew([execution_id]))
            except StoreError as exc:
                if not exc.transient:
                    raise
        return False

    async def _renew(self, ids: list[str]) -> list[str]:
        async with self._watch.call():
            return await self.store.renew_leases(
                owner=self.owner, execution_ids=ids, until=self._now() + self.lease
            )

    async def release(self, execution_id: str) -> None:
        """Give the claim back (unless the store is lost: then it lapses on its own).
        Claims given back in the same turn of the loop (the executions one group commit
        finished) go back in one store call."""
        self.lost.discard(execution_id)
        if self._watch.down:
            return
        self._to_release.append(execution_id)
        if self._releasing is None:
            self._releasing = asyncio.ensure_future(self._release_together())
        await asyncio.shield(self._releasing)

    async def _release_together(self) -> None:
        await asyncio.sleep(0)  # let the others finishing now join
        ids, self._to_release, self._releasing = self._to_release, [], None
        try:
            async with self._watch.call():
                await self.store.release(owner=self.owner, execution_ids=ids)
        except StoreError as exc:
            if not exc.transient:  # the lease expires on its own: only time is lost
                log.warning("runtime %s: could not release %s: %s", self.owner, ", ".join(ids), exc.message)

    def keep(self, execution_id: str) -> None:
        """Keep the claim after a failure, to lapse: the failure's back-off."""
        self.lost.discard(execution_id)
        if execution_id not in self.parked:
            self._backing_off[execution_id] = self._now() + self.lease

    def park(self, execution_id: str, exc: StoreError) -> None:
        """Hold the execution, never stepping it again here: ``exc`` would repeat. A lost
        race (:class:`ConflictError`) is no such error: that claim is kept to lapse."""
        if isinstance(exc, ConflictError):
            log.warning(
                "runtime %s: execution %s: %s; retrying after its lease",
                self.owner,
                execution_id,
                exc.message,
            )
            self.keep(execution_id)
            return
        self.parked.add(execution_id)
        log.error(
            "runtime %s: execution %s: %s; this would fail the same way again, so it stays claimed "
            "here and is not stepped again while this runtime runs",
            self.owner,
            execution_id,
            exc.message,
        )

    def claimed(self, execution_id: str) -> bool:
        """The execution was claimed (again): its back-off is over. False if it is parked
        (its lapsed lease was claimed back): it is not to be stepped."""
        self._backing_off.pop(execution_id, None)
        return execution_id not in self.parked

    def next_lapse(self, now: datetime) -> datetime | None:
        """When the next claim kept as a back-off lapses (and can be claimed again)."""
        return min((t for t in self._backing_off.values() if t > now), default=None)

    async def release_kept(self) -> None:
        """Give back the claims kept as a back-off, and the parked (shutting down: a
        graceful stop leaves no claim behind)."""
        ids = sorted({*self._backing_off, *self.parked})
        self._backing_off, self.parked = {}, set()
        if ids:
            with contextlib.suppress(StoreError):
                await self.store.release(owner=self.owner, execution_ids=ids)
