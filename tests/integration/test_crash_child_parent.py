"""A child's end always reaches its parent: the parent's wake is part of the child's
terminal transaction, so a crash right after it (the process SIGKILLed at the armed fault
point ``child-ended``) strands nothing.

Before, the engine woke the parent in a second write after the child's terminal commit;
a crash between the two left the parent waiting for ever (a sub-flow wait has no
``wake_at``, so nothing would ever claim it again).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from flowmonkey import Engine, ExecutionQuery, ExecutionStatus, Flow, Runtime, open_store

PARENT = {
    "id": "parent",
    "initialStepId": "call",
    "steps": {"call": {"type": "subflow", "config": {"flowId": "child"}, "outputKey": "child"}},
}
CHILD = {
    "id": "child",
    "initialStepId": "say",
    "steps": {"say": {"type": "log", "config": {"message": "hi"}}},
}

SCRIPT = f"""
import asyncio, sys
from datetime import timedelta
from flowmonkey import Engine, Flow, Runtime, faults, open_store

async def main(url):
    async with open_store(url) as store:
        engine = Engine(store, flows=[Flow.from_dict({PARENT!r}), Flow.from_dict({CHILD!r})])
        parent, _ = await engine.create("parent", {{}})
        print(parent.id, flush=True)
        faults.arm("child-ended")  # SIGKILL right after the child's terminal commit
        async with Runtime(engine, lease=timedelta(seconds=1)) as runtime:
            await runtime.run_until_idle(timeout=20)
        print("not killed", flush=True)

asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_crash_right_after_a_child_ends_strands_no_parent(store_url: str) -> None:
    command = [sys.executable, "-c", SCRIPT, store_url]
    killed = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    parent_id = killed.stdout.split()[0]
    async with open_store(store_url) as store:
        parent = await store.get_execution(parent_id)
        [child] = (await store.list_executions(ExecutionQuery(parent_execution_id=parent_id))).items
        assert child.status is ExecutionStatus.COMPLETED
        # Runnable, not stranded: woken in the child's transaction if it was waiting (or, if
        # the child ended before the parent's wait committed, that commit lost and re-read).
        assert parent is not None and not parent.is_terminal
        assert parent.status is not ExecutionStatus.WAITING or parent.wake_at is not None
        engine = Engine(store, flows=[Flow.from_dict(PARENT), Flow.from_dict(CHILD)])
        async with Runtime(engine, lease=timedelta(seconds=1)) as runtime:
            for _ in range(50):  # the killed process's lease lapses within a second
                await runtime.run_until_idle(timeout=20)
                done = await store.get_execution(parent_id)
                if done is not None and done.is_terminal:
                    break
                await asyncio.sleep(0.1)
    assert done is not None and done.status is ExecutionStatus.COMPLETED
    assert done.context["child"] == child.context
