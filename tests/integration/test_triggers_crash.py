"""A scheduler that dies mid-fire loses no slot and doubles none, on every store.

A process can die anywhere between deciding to fire a slot and saving the trigger's next
run. Whatever it left behind, a fresh :class:`TriggerService` on the same store (a restart,
or another instance) must start that slot's run exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowmonkey import Engine, ExecutionQuery, Flow, Store
from flowmonkey.stores.base import CreateResult
from flowmonkey.triggers import TriggerService
from tests.unit.conftest import FakeClock
from tests.unit.helpers import BASIC, chain

START = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
SLOT = START + timedelta(minutes=1)
ORDERS = Flow.from_dict(chain("orders", ["echo"]))


class Crash(Exception):
    """The process died here: nothing after this point ran."""


class CrashingEngine(Engine):
    """An engine whose process dies right before, or right after, it creates an execution."""

    def __init__(self, store: Store, *, after_insert: bool) -> None:
        super().__init__(store, BASIC, [ORDERS], clock=FakeClock(START))
        self.after_insert = after_insert

    async def create(self, *args: Any, **kwargs: Any) -> CreateResult:
        if not self.after_insert:
            raise Crash
        await super().create(*args, **kwargs)
        raise Crash


def fresh_service(store: Store) -> TriggerService:
    """A new process on the same store: nothing in memory from the one that died."""
    return TriggerService(store, Engine(store, BASIC, [ORDERS], clock=FakeClock(START)), secret="s")


async def slots_started(store: Store) -> list[str]:
    page = await store.list_executions(ExecutionQuery(flow_id="orders"))
    return [e.metadata["trigger"]["slotAt"] for e in page.items]


async def register_minutely(store: Store) -> None:
    service = fresh_service(store)
    await service.register("minutely", type="schedule", flow_id="orders", config={"cron": "* * * * *"})


async def test_a_slot_claimed_before_a_crash_is_fired_once_by_the_next_service(any_store: Store) -> None:
    await register_minutely(any_store)
    # What a process of the previous release left when it died between the claim and the create.
    assert await any_store.claim_slot(trigger_id="minutely", slot_at=SLOT)

    restarted = fresh_service(any_store)
    [outcome] = await restarted.tick(SLOT + timedelta(seconds=20))
    assert outcome.slot_at == SLOT and outcome.created
    assert await fresh_service(any_store).tick(SLOT + timedelta(seconds=30)) == []
    assert await slots_started(any_store) == [SLOT.isoformat()]
    assert [f.slot_at for f in await restarted.history("minutely")] == [SLOT]


@pytest.mark.parametrize("after_insert", [False, True], ids=["before-insert", "after-insert"])
async def test_a_crash_around_the_create_leaves_the_slot_to_a_fresh_service(
    any_store: Store, after_insert: bool
) -> None:
    await register_minutely(any_store)
    dying = TriggerService(any_store, CrashingEngine(any_store, after_insert=after_insert), secret="s")
    with pytest.raises(Crash):
        await dying.tick(SLOT)
    stored = await any_store.get_trigger("minutely")
    assert stored is not None and stored.next_run_at == SLOT  # the slot is still due

    restarted = fresh_service(any_store)
    fired = await restarted.tick(SLOT + timedelta(seconds=20))
    assert [o.slot_at for o in fired] == ([] if after_insert else [SLOT])  # created once, either way
    assert await slots_started(any_store) == [SLOT.isoformat()]
    stored = await any_store.get_trigger("minutely")
    assert stored is not None and stored.next_run_at == SLOT + timedelta(minutes=1)
    assert await restarted.tick(SLOT + timedelta(seconds=40)) == []
    assert await slots_started(any_store) == [SLOT.isoformat()]
