"""The ``triggers:`` section of flow files: checked by the triggers package, through the
section hook of the flow-file loader, only where the composition passes it in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowmonkey import TRIGGERS_SECTION, Engine, Flow, HandlerRegistry, MemoryStore
from flowmonkey.flowdirectory import FlowDirectory
from flowmonkey.flowfiles import FlowFileError, JsonPath, parse_flow
from flowmonkey.handlers import builtin_handlers

from .helpers import BASIC

HANDLERS = HandlerRegistry([*builtin_handlers(), *BASIC])

FLOW = """\
id: order
initialStepId: ship
steps:
  ship:
    type: echo
triggers:
  - {id: nightly, type: schedule, cron: "0 2 * * *", timezone: Mars/Olympus}
  - {id: in/orders, type: http}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(FlowFileError) as raised:
        parse_flow(text, file="flows/order.yaml", handlers=HANDLERS, sections=[TRIGGERS_SECTION])
    return [str(p) for p in raised.value.problems]


def test_every_bad_declaration_is_placed_at_its_line_and_column() -> None:
    assert problems(FLOW) == [
        'flows/order.yaml:7:54: triggers.0.timezone: unknown time zone "Mars/Olympus"',
        "flows/order.yaml:8:5: triggers.1: flow 'order' triggers[1].id: 'in/orders' must not contain '/' "
        "(use `path` for nested URLs)",
    ]


def test_an_input_schema_jsonschema_cannot_read_is_an_error_not_a_crash() -> None:
    text = FLOW.split("triggers:")[0] + "triggers:\n  - {id: h, type: http, inputSchema: {type: 12}}\n"
    [problem] = problems(text)
    assert problem.startswith("flows/order.yaml:7:5: triggers.0: ") and "not a valid JSON Schema" in problem


def test_without_the_section_the_loader_leaves_the_declarations_to_the_sync() -> None:
    loaded = parse_flow(FLOW, file="flows/order.yaml", handlers=HANDLERS)
    assert [t["id"] for t in loaded.flow.triggers] == ["nightly", "in/orders"]


class NoShipping:
    """A section of another package: it forbids a step called "ship", to show the hook."""

    name = "steps"

    def check(self, flow: Flow) -> Iterator[tuple[JsonPath, str]]:
        if "ship" in flow.steps:
            yield ("ship", "type"), "no shipping on Sundays"


def test_any_section_checker_reports_under_its_section() -> None:
    with pytest.raises(FlowFileError) as raised:
        parse_flow(FLOW, file="o.yaml", handlers=HANDLERS, sections=[NoShipping()])
    assert [str(p) for p in raised.value.problems] == ["o.yaml:5:5: steps.ship.type: no shipping on Sundays"]


async def test_a_flow_directory_given_the_section_keeps_a_bad_file_out(tmp_path: Path) -> None:
    (tmp_path / "order.yaml").write_text(FLOW)
    engine = Engine(MemoryStore(), HANDLERS)

    [state] = await FlowDirectory(tmp_path, engine, sections=[TRIGGERS_SECTION]).load()

    assert not state.ok and [p.path for p in state.errors] == [("triggers", 0, "timezone"), ("triggers", 1)]
    assert engine.flows.latest() == []
