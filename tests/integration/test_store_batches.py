"""A bad row only ever fails its own commit, on SQLite and PostgreSQL.

Step commits of concurrent executions share one transaction (group commit). Before, on
PostgreSQL, one row the database refused failed the shared statement, and every caller
in the batch got the error: 300 normal executions and 3 poison ones had 8 unrelated
executions' steps re-run. Now a batch that fails for a reason that is not transient is
retried one commit at a time.
"""

from __future__ import annotations

import asyncio

import pytest

from flowmonkey import Change, StoreError
from flowmonkey.stores import Store
from tests.integration.test_store_contract import T0, execution, record

GOOD, POISON = 300, 3


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_three_poison_rows_among_three_hundred_fail_only_themselves(any_store: Store) -> None:
    good = [execution() for _ in range(GOOD)]
    poison = [execution() for _ in range(POISON)]
    for e in (*good, *poison):
        await any_store.create_execution(e, now=T0)
    for e in poison:  # a first step, so that the poison one can repeat its record's key
        assert await any_store.commit(Change(e, {"revision": 1}, record(e, 1)))
        e.revision = 1

    def commit(e: object, change: Change) -> asyncio.Task[bool]:
        return asyncio.ensure_future(any_store.commit(change))

    commits = [
        commit(e, Change(e, {"revision": 1, "context": {"n": i}}, record(e, 1))) for i, e in enumerate(good)
    ]
    # The database refuses these: a second history record at sequence 1 (its primary key).
    refused = [commit(e, Change(e, {"revision": 2}, record(e, 1))) for e in poison]
    tasks = [*commits[:100], *refused, *commits[100:]]  # the poison ones sit among the others
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    poisoned = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(poisoned) == POISON and all(isinstance(o, StoreError) and not o.transient for o in poisoned)
    assert [o for o in outcomes if not isinstance(o, BaseException)] == [True] * GOOD
    for i, e in enumerate(good):
        stored = await any_store.get_execution(e.id)
        assert stored is not None and stored.revision == 1 and stored.context == {"n": i}
        assert [r.sequence for r in await any_store.history(e.id)] == [1]
    for e in poison:
        stored = await any_store.get_execution(e.id)
        assert stored is not None and stored.revision == 1  # nothing of the refused commit
        assert len(await any_store.history(e.id)) == 1
