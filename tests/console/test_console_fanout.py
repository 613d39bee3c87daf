"""A map step's children in the execution detail: progress and the children in order,
and enter opens a child; the flow detail draws a parallel step's branches."""

from __future__ import annotations

from flowmonkey import Engine, Flow, HandlerParams, MemoryStore, Result, StepResult, handler
from flowmonkey_console.screens.execution_detail import ExecutionDetailScreen
from flowmonkey_console.screens.flow_detail import step_lines
from tests.console.support import FrozenClock, main_screen, make_app, screen_text, wait_for


@handler("even-only")
async def even_only(params: HandlerParams) -> StepResult:
    """Even elements finish; odd ones wait for a person."""
    if params.input % 2:
        return Result.wait(reason="odd")
    return Result.success(params.input)


CHILD = Flow.from_dict(
    {
        "id": "half",
        "initialStepId": "h",
        "steps": {"h": {"type": "even-only", "input": {"type": "key", "key": "item"}, "outputKey": "r"}},
    }
)
MAPPER = Flow.from_dict(
    {
        "id": "mapper",
        "initialStepId": "m",
        "steps": {
            "m": {"type": "map", "flow": "half", "input": {"type": "key", "key": "xs"}, "outputKey": "ys"}
        },
    }
)


async def test_the_detail_shows_a_maps_children_with_progress_and_opens_one(clock: FrozenClock) -> None:
    engine = Engine(MemoryStore(), [even_only], [CHILD, MAPPER], clock=clock)
    parent, _ = await engine.create("mapper", {"xs": [0, 1, 2, 3, 4, 5]})
    await engine.run(parent.id)
    app = make_app(engine)
    async with app.run_test(size=(80, 40), notifications=True) as pilot:
        await main_screen(pilot)
        assert app.backend is not None
        app.push_screen(ExecutionDetailScreen(app.backend, parent.id))
        await wait_for(
            pilot, lambda: "Children of m: 3/6 done, 0 failed" in screen_text(app), what="progress"
        )
        detail = app.screen
        assert isinstance(detail, ExecutionDetailScreen)
        children = detail.query_one("#children")
        assert children.row_count == 6  # type: ignore[attr-defined]
        children.focus()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.screen is not detail, what="the child's detail")
        child = app.screen
        assert isinstance(child, ExecutionDetailScreen)
        await wait_for(pilot, lambda: child.execution is not None, what="the child")
        assert child.execution is not None and child.execution.context["index"] == 1
        assert child.execution.parent_execution_id == parent.id


def test_the_flow_detail_draws_a_parallel_steps_branches() -> None:
    flow = Flow.from_dict(
        {
            "id": "p",
            "initialStepId": "p",
            "steps": {
                "p": {"type": "parallel", "branches": {"credit": {"flow": "c"}, "fraud": {"flow": "f"}}}
            },
        }
    )
    lines = step_lines(flow.steps["p"])
    assert lines[1:4] == ["parallel (all):", "  ├ credit ⇉ c", "  └ fraud ⇉ f"]
