"""Renewing a runtime's leases: what counts as lost."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from flowmonkey import MemoryStore
from flowmonkey.leases import Leases
from flowmonkey.outage import StoreWatch

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class ReleasingMidRenewal(MemoryStore):
    """Its renewal finds ``done`` given back meanwhile (its step ended while the renewal
    waited for the store): only the others' leases are still held."""

    def __init__(self, stepping: set[str], done: str) -> None:
        super().__init__()
        self.stepping, self.done = stepping, done
        self.renewed = asyncio.Event()

    async def renew_leases(self, *, owner: str, execution_ids: list[str], until: datetime) -> list[str]:
        self.stepping.discard(self.done)
        self.renewed.set()
        return [i for i in execution_ids if i != self.done]


async def test_a_claim_given_back_during_a_renewal_is_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    stepping = {"a", "b"}
    store = ReleasingMidRenewal(stepping, done="b")
    watch = StoreWatch("s", logging.getLogger("test"))
    leases = Leases(store, owner="w", lease=timedelta(seconds=0.03), now=lambda: NOW, watch=watch)
    renewing = asyncio.ensure_future(leases.keep_renewed(lambda: set(stepping)))
    try:
        await asyncio.wait_for(store.renewed.wait(), 5)
        await asyncio.sleep(0.05)
    finally:
        renewing.cancel()
    assert leases.lost == set()
    assert "lost the lease" not in caplog.text
