"""The live-development loop in the real console (tmux, 80x24): a flow whose handler fails
is held; the handler file is rewritten while the console runs (hot reload); ``R`` continues
the same execution from the held step to ``completed``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from flowmonkey import ExecutionStatus, StepStatus, open_store
from tests.console.test_console_tmux import Tmux, cli, console_command, quit_console
from tests.console.test_console_tmux import tmux as tmux  # the fixture

FLOW = """\
id: shipping
version: 1.0.0
onExhausted: hold
initialStepId: pay
steps:
  pay: {type: pay, outputKey: payment, transitions: {onSuccess: ship}}
  ship: {type: ship, outputKey: shipment}
"""
HANDLERS = """\
from flowmonkey import HandlerParams, Result, StepResult, handler


@handler("pay")
async def pay(params: HandlerParams) -> StepResult:
    return Result.success({"paid": True})


@handler("ship")
async def ship(params: HandlerParams) -> StepResult:
    return Result.BODY
"""
BROKEN = 'failure("HTTP_ERROR", "the shipping API answered 503")'
FIXED = 'success({"tracking": "T-1"})'


async def _state(url: str) -> tuple[ExecutionStatus, list[StepStatus], int]:
    async with open_store(url, readonly=True) as store:
        [execution] = (await store.list_executions()).items
        history = await store.history(execution.id)
        return execution.status, [r.outcome for r in history], len(history)


@pytest.mark.slow
def test_a_held_execution_is_fixed_in_its_handler_file_and_continued_with_r(
    tmux: type[Tmux], tmp_path: Path
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "shipping.yaml").write_text(FLOW)
    module = flows / "shipping.py"
    module.write_text(HANDLERS.replace("BODY", BROKEN))
    store = f"sqlite:///{tmp_path / 'console.db'}"
    started = cli("run", "shipping", "--store", store, "--flows", str(flows), "--create", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    session = tmux([*console_command(), "--flows", str(flows), "--store", store], cwd=tmp_path)
    try:
        session.wait_for("worker: on")
        session.keys("3")
        session.wait_for("held: HTTP_ERR")  # the console's worker ran it and held it (cut at 80 columns)
        session.wait_for("⏸ 1 held")  # counted in the status bar
        module.write_text(HANDLERS.replace("BODY", FIXED))  # the fix, saved while it runs
        time.sleep(3)  # the watcher reloads the module
        session.keys("R")
        session.wait_for("continues from the step")
        session.keys("y")
        session.wait_for("retried ")
        session.keys("2")
        session.wait_for("✔ completed")
        quit_console(session)
    finally:
        session.close()
    status, outcomes, _ = asyncio.run(_state(store))
    assert status is ExecutionStatus.COMPLETED
    assert outcomes == [StepStatus.COMPLETED, StepStatus.HELD, StepStatus.RETRIED, StepStatus.COMPLETED]
