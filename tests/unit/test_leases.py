"""Renewing a runtime's leases: what counts as lost."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from flowmonkey import Engine, ExecutionStatus, Flow, MemoryStore
from flowmonkey.bench_flows import FLOW_ID, noop_flow
from flowmonkey.change import Change
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


async def test_a_lease_its_executions_last_commit_gave_back_is_not_lost_and_one_taken_over_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A worker under load logged "lost the lease of 39 execution(s)": the commits that ended
    # them cleared their leases while a renewal was on its way, before their stepping tasks
    # had heard back. Only the execution another runtime took over is lost.
    store = MemoryStore()
    engine = Engine(store, flows=[Flow.from_dict(noop_flow(1, waits=False))])
    ended, taken = [(await engine.create(FLOW_ID)).execution for _ in range(2)]
    lease = timedelta(seconds=30)
    assert len(await store.claim(owner="w", now=NOW, lease=lease, limit=2)) == 2
    done = {"status": ExecutionStatus.COMPLETED, "revision": ended.revision + 1, "completed_at": NOW}
    assert await store.commit(Change(ended, done))
    [took] = await store.claim(owner="other", now=NOW + 2 * lease, lease=lease, limit=2)
    assert took.execution.id == taken.id and took.taken_from == "w"

    stepping = {ended.id, taken.id}  # neither stepping task has heard yet
    watch = StoreWatch("s", logging.getLogger("test"))
    leases = Leases(store, owner="w", lease=timedelta(seconds=0.03), now=lambda: NOW, watch=watch)
    renewing = asyncio.ensure_future(leases.keep_renewed(lambda: set(stepping)))
    try:
        for _ in range(500):
            await asyncio.sleep(0.01)
            if leases.lost:
                break
    finally:
        renewing.cancel()
    assert leases.lost == {taken.id}
    assert "runtime w lost the lease of 1 execution(s): taken over by another runtime" in caplog.text
