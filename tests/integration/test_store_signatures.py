"""The seen-set of webhook signatures, on memory, SQLite and PostgreSQL alike.

A signed webhook delivery claims its signature before it starts a flow and settles the
claim with the execution it started; a redelivery finds the claim. These are the store's
rules for that (``Store.claim_signature`` / ``settle_signature`` / ``get_signature``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from flowmonkey.model import WebhookSignature
from flowmonkey.stores import Store

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)
LONG_AGO = T0 - timedelta(days=1)  # no claim counts as abandoned


def seen(signature: str = "a1" * 32, *, at: datetime = T0, trigger_id: str = "hook") -> WebhookSignature:
    return WebhookSignature(trigger_id=trigger_id, signature=signature, seen_at=at, expires_at=at + TOLERANCE)


async def test_the_first_claim_wins_and_a_redelivery_finds_the_execution_it_started(any_store: Store) -> None:
    first = seen()
    assert await any_store.claim_signature(first, abandoned_before=LONG_AGO) is None
    assert await any_store.get_signature(trigger_id="hook", signature=first.signature) == first

    starting = await any_store.claim_signature(seen(at=T0 + timedelta(seconds=1)), abandoned_before=LONG_AGO)
    assert starting == first  # still starting its flow: no execution yet

    await any_store.settle_signature(trigger_id="hook", signature=first.signature, execution_id="exec-1")
    again = await any_store.claim_signature(seen(at=T0 + timedelta(seconds=2)), abandoned_before=LONG_AGO)
    assert again is not None and again.execution_id == "exec-1" and again.seen_at == T0
    stored = await any_store.get_signature(trigger_id="hook", signature=first.signature)
    assert stored is not None and stored.execution_id == "exec-1"


async def test_signatures_are_per_trigger(any_store: Store) -> None:
    assert await any_store.claim_signature(seen(trigger_id="a"), abandoned_before=LONG_AGO) is None
    assert await any_store.claim_signature(seen(trigger_id="b"), abandoned_before=LONG_AGO) is None
    assert await any_store.get_signature(trigger_id="c", signature=seen().signature) is None


async def test_a_dropped_claim_frees_the_signature_but_a_settled_one_stays(any_store: Store) -> None:
    claim = seen()
    await any_store.claim_signature(claim, abandoned_before=LONG_AGO)
    await any_store.settle_signature(trigger_id="hook", signature=claim.signature, execution_id=None)
    assert await any_store.get_signature(trigger_id="hook", signature=claim.signature) is None
    assert await any_store.claim_signature(claim, abandoned_before=LONG_AGO) is None

    await any_store.settle_signature(trigger_id="hook", signature=claim.signature, execution_id="exec-1")
    await any_store.settle_signature(trigger_id="hook", signature=claim.signature, execution_id=None)
    kept = await any_store.get_signature(trigger_id="hook", signature=claim.signature)
    assert kept is not None and kept.execution_id == "exec-1"


async def test_an_abandoned_claim_is_taken_over_but_a_settled_one_never(any_store: Store) -> None:
    claim = seen()
    await any_store.claim_signature(claim, abandoned_before=LONG_AGO)
    later = seen(at=T0 + timedelta(seconds=40))
    # Claimed at T0, never settled; at T0+40s claims from before T0+10s count as abandoned.
    assert await any_store.claim_signature(later, abandoned_before=T0 + timedelta(seconds=10)) is None
    taken = await any_store.get_signature(trigger_id="hook", signature=claim.signature)
    assert taken == later

    await any_store.settle_signature(trigger_id="hook", signature=claim.signature, execution_id="exec-2")
    much_later = seen(at=T0 + timedelta(seconds=90))
    held = await any_store.claim_signature(much_later, abandoned_before=T0 + timedelta(seconds=80))
    assert held is not None and held.execution_id == "exec-2"


async def test_an_expired_signature_is_forgotten_and_may_be_claimed_again(any_store: Store) -> None:
    old, other = seen("0b" * 32), seen("0c" * 32)
    await any_store.claim_signature(old, abandoned_before=LONG_AGO)
    await any_store.settle_signature(trigger_id="hook", signature=old.signature, execution_id="exec-old")
    await any_store.claim_signature(other, abandoned_before=LONG_AGO)

    after = T0 + TOLERANCE + timedelta(microseconds=1)
    assert await any_store.claim_signature(seen("0b" * 32, at=after), abandoned_before=LONG_AGO) is None
    renewed = await any_store.get_signature(trigger_id="hook", signature=old.signature)
    assert renewed is not None and renewed.execution_id is None and renewed.seen_at == after
    assert await any_store.get_signature(trigger_id="hook", signature=other.signature) is None  # deleted


async def test_of_concurrent_claims_exactly_one_wins(any_store: Store) -> None:
    claims = [seen(at=T0 + timedelta(milliseconds=i)) for i in range(20)]
    results = await asyncio.gather(*(any_store.claim_signature(c, abandoned_before=LONG_AGO) for c in claims))
    assert sum(result is None for result in results) == 1
    winner = claims[results.index(None)]
    assert all(result == winner for result in results if result is not None)
