"""Triggers declared in real flow files follow FlowDirectory's loads, edits and deletions.

Driven with ``load()`` / ``reload(paths)`` (what the watcher calls), so no watcher timing.
Note for the store engineer: no new TriggerDefinition fields are needed.
"""

from __future__ import annotations

from pathlib import Path

from flowmonkey import Engine, MemoryStore
from flowmonkey.flowdirectory import FlowDirectory
from flowmonkey.triggers import TriggerService
from tests.unit.helpers import BASIC

FLOW = """\
id: orders
version: {version}
initialStepId: s0
steps:
  s0: {{type: echo}}
triggers:
{triggers}
"""

V1 = """\
  - {id: orders-hook, type: http, contextKey: order}
  - {id: orders-nightly, type: schedule, cron: "0 2 * * *", timezone: Europe/Paris}
"""

V2 = """\
  - {id: orders-hook, type: http, contextKey: payload, enabled: false}
  - {id: orders-paid, type: event, event: order.paid}
"""


async def test_flow_file_triggers_are_registered_updated_and_retired(tmp_path: Path) -> None:
    path = tmp_path / "orders.yaml"
    path.write_text(FLOW.format(version="1.0.0", triggers=V1))
    engine = Engine(MemoryStore(), BASIC)
    service = TriggerService(engine.store, engine, schedule=None)
    directory = FlowDirectory(tmp_path, engine)

    await directory.load()
    await service.flow_sync.settle()
    triggers = {t.id: t for t in await service.list()}
    assert sorted(triggers) == ["orders-hook", "orders-nightly"]
    assert triggers["orders-hook"].source is not None and "orders.yaml" in triggers["orders-hook"].source

    path.write_text(FLOW.format(version="1.1.0", triggers=V2))
    await directory.reload([path])
    await service.flow_sync.settle()
    triggers = {t.id: t for t in await service.list()}
    assert sorted(triggers) == ["orders-hook", "orders-paid"]
    assert triggers["orders-hook"].config["contextKey"] == "payload"
    assert not triggers["orders-hook"].enabled
    [outcome] = await service.emit("order.paid", {"id": 1})
    execution = await engine.get(outcome.execution_id)  # type: ignore[arg-type]
    assert execution is not None and execution.flow_version == "1.1.0"

    path.unlink()
    await directory.reload([path])
    await service.flow_sync.settle()
    assert await service.list() == []
