"""RedisLockManager and RedisWakeSignaler on a real Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from flowmonkey.coordination.redis import RedisLockManager, RedisWakeSignaler

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test only, so runs (and other tests) never collide."""
    return f"flowmonkey-test:{secrets.token_hex(4)}:"


@pytest.fixture
async def locks(redis_url: str, prefix: str) -> AsyncIterator[RedisLockManager]:
    manager = RedisLockManager(redis_url, prefix=prefix, owner="a")
    yield manager
    await manager.close()


@pytest.fixture
async def other_locks(redis_url: str, prefix: str) -> AsyncIterator[RedisLockManager]:
    manager = RedisLockManager(redis_url, prefix=prefix, owner="b")
    yield manager
    await manager.close()


async def test_only_one_holder_at_a_time_under_contention(
    locks: RedisLockManager, other_locks: RedisLockManager
) -> None:
    inside = 0
    overlaps = 0
    entered = 0

    async def contend(manager: RedisLockManager) -> None:
        nonlocal inside, overlaps, entered
        for _ in range(10):
            while (lock := await manager.acquire("hot", ttl=5)) is None:
                await asyncio.sleep(0.001)  # spin: we are testing contention
            inside += 1
            entered += 1
            overlaps += inside > 1
            await asyncio.sleep(0.002)
            inside -= 1
            assert await lock.release()

    await asyncio.gather(*(contend(m) for m in (locks, other_locks) for _ in range(4)))
    assert entered == 80 and overlaps == 0


async def test_a_non_owner_cannot_release_and_fences_grow(
    locks: RedisLockManager, other_locks: RedisLockManager
) -> None:
    lock = await locks.acquire("k", ttl=5)
    assert lock is not None
    assert await other_locks.acquire("k", ttl=5) is None
    assert await other_locks.release("k", "b:not-the-token") is False
    assert await locks.holder("k") == lock.token
    assert await lock.release() is True
    again = await other_locks.acquire("k", ttl=5)
    assert again is not None and again.fence > lock.fence
    assert await lock.release() is False  # an old holder cannot drop the new holder's lock
    assert await other_locks.holder("k") == again.token


async def test_renewal_keeps_a_long_steps_lock(
    locks: RedisLockManager, other_locks: RedisLockManager
) -> None:
    lock = await locks.acquire("long", ttl=0.3)
    assert lock is not None
    started = time.monotonic()
    while time.monotonic() - started < 1.2:  # four TTLs
        assert await other_locks.acquire("long", ttl=0.3) is None
        await asyncio.sleep(0.05)
    assert not lock.lost
    assert await lock.release()


async def test_a_crashed_owners_lock_expires(locks: RedisLockManager, other_locks: RedisLockManager) -> None:
    crashed = await locks.acquire("job", ttl=0.3, renew=False)  # nobody renews: as if it died
    assert crashed is not None
    assert await other_locks.acquire("job", ttl=0.3) is None
    deadline = time.monotonic() + 3
    taken = None
    while taken is None and time.monotonic() < deadline:
        taken = await other_locks.acquire("job", ttl=5)
        await asyncio.sleep(0.02)
    assert taken is not None and taken.fence > crashed.fence
    assert await crashed.extend() is False and crashed.lost
    await taken.release()


async def test_wake_signals_reach_other_processes_but_not_the_sender(redis_url: str, prefix: str) -> None:
    channel = prefix + "wake"
    sender, receiver = (
        RedisWakeSignaler(redis_url, channel=channel),
        RedisWakeSignaler(redis_url, channel=channel),
    )
    heard: list[tuple[str | None, datetime | None]] = []
    echoed: list[str | None] = []
    got = asyncio.Event()

    def on_wake(execution_id: str | None, wake_at: datetime | None) -> None:
        heard.append((execution_id, wake_at))
        if len(heard) == 3:
            got.set()

    await sender.start(lambda execution_id, _: echoed.append(execution_id))
    await receiver.start(on_wake)
    try:
        later = datetime(2030, 1, 1, tzinfo=UTC)
        sender.notify("e1")
        sender.notify("e2", later)
        sender.notify("e3")
        await asyncio.wait_for(got.wait(), 5)
    finally:
        await sender.stop()
        await receiver.stop()
    assert sorted(heard, key=lambda h: str(h[0])) == [("e1", None), ("e2", later), ("e3", None)]
    assert echoed == []
