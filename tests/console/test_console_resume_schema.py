"""The resume editor is shaped by the waiting step's ``resumeSchema``: it shows the schema,
starts from a skeleton of it, and a refusal lists every error with its JSON path while
the editor stays open to fix it."""

from __future__ import annotations

import json

from textual.widgets import TextArea

from flowmonkey import Engine, ExecutionStatus, Flow, MemoryStore
from flowmonkey_console.resume_data import describe, skeleton, skeleton_text
from flowmonkey_console.screens.json_editor import JsonEditorScreen
from tests.console.support import HANDLERS, FrozenClock, main_screen, make_app, screen_text, start, wait_for

SCHEMA = {
    "type": "object",
    "required": ["approved", "by"],
    "properties": {
        "note": {"type": "string"},
        "by": {"type": "string", "minLength": 1},
        "approved": {"type": "boolean"},
    },
    "additionalProperties": False,
}
APPROVAL = Flow.from_dict(
    {
        "id": "approval",
        "version": "1.0.0",
        "initialStepId": "approve",
        "steps": {
            "approve": {
                "type": "await-approval",
                "outputKey": "decision",
                "resumeSchema": SCHEMA,
                "transitions": {"onSuccess": "ship"},
            },
            "ship": {"type": "work", "outputKey": "shipped"},
        },
    }
)


def test_the_skeleton_and_the_description_follow_the_schema() -> None:
    assert skeleton(SCHEMA) == {"approved": False, "by": "", "note": ""}  # required ones first
    assert describe(SCHEMA) == "{approved*: boolean, by*: string, note: string}"
    nested = {
        "type": "object",
        "properties": {
            "level": {"enum": ["low", "high"]},
            "items": {"type": "array", "items": {"type": "integer"}},
            "who": {"type": ["null", "object"], "properties": {"id": {"type": "integer", "default": 7}}},
        },
    }
    assert skeleton(nested) == {"level": "low", "items": [], "who": {"id": 7}}
    assert describe(nested) == '{level: "low" | "high", items: [integer], who: {id: integer}}'
    assert skeleton(None) == {} and skeleton_text(None) == "{}"
    assert json.loads(skeleton_text(SCHEMA)) == skeleton(SCHEMA)


async def test_the_resume_editor_shows_the_schema_and_lists_every_refusal(clock: FrozenClock) -> None:
    engine = Engine(MemoryStore(), HANDLERS, [APPROVAL], clock=clock)
    waiting = await start(engine, "approval")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await main_screen(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, JsonEditorScreen), what="the editor")
        await pilot.pause()
        editor = app.screen.query_one(TextArea)
        assert json.loads(editor.text) == {"approved": False, "by": "", "note": ""}
        assert "expects {approved*: boolean, by*: string, note: string}" in screen_text(app)
        editor.text = '{"approved": "yes", "extra": 1}'
        await pilot.press("f2")
        await wait_for(pilot, lambda: "$.by" in screen_text(app), what="the refusal")
        text = screen_text(app)
        assert isinstance(app.screen, JsonEditorScreen), "a refusal keeps the editor open"
        assert "✘ the data does not match the waiting step's resumeSchema:" in text
        assert "  $.approved: 'yes' is not of type 'boolean'" in text
        assert "  $.by: 'by' is a required property" in text
        assert "  $: Additional properties are not allowed ('extra' was unexpected)" in text
        assert "Resume " in text and "Cancel" in text  # the buttons are still on the screen
        stored = await engine.get(waiting)
        assert stored is not None and stored.status is ExecutionStatus.WAITING
        editor.text = '{"approved": true, "by": "ops"}'
        await pilot.press("f2")
        await wait_for(
            pilot, lambda: not isinstance(app.screen, JsonEditorScreen), what="the editor to close"
        )
        await wait_for(pilot, lambda: f"resumed {waiting}" in screen_text(app), what="the toast")
    resumed = await engine.get(waiting)
    assert resumed is not None and resumed.context["decision"] == {"approved": True, "by": "ops"}
    assert [r.outcome.value for r in await engine.store.history(waiting)] == ["waiting", "resumed"]
