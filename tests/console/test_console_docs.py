"""The console's README section documents every key binding by its id (so it cannot rot)."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode

from flowmonkey_console.app import ConsoleApp
from flowmonkey_console.screens.confirm import ConfirmScreen
from flowmonkey_console.screens.execution_detail import ExecutionDetailScreen
from flowmonkey_console.screens.flow_detail import FlowDetailScreen
from flowmonkey_console.screens.help import HelpScreen
from flowmonkey_console.screens.json_editor import JsonEditorScreen
from flowmonkey_console.screens.main import MainScreen
from flowmonkey_console.screens.raw_json import RawJsonScreen
from flowmonkey_console.screens.times import TimesScreen
from flowmonkey_console.widgets.command_prompt import CommandPrompt
from flowmonkey_console.widgets.console_table import ConsoleTable
from flowmonkey_console.widgets.console_view import ConsoleView
from flowmonkey_console.widgets.events_view import EventsView
from flowmonkey_console.widgets.execution_list import ExecutionListView
from flowmonkey_console.widgets.flows_view import FlowsView
from flowmonkey_console.widgets.triggers_view import TriggersView

README = Path(__file__).resolve().parents[2] / "README.md"
CLASSES: list[type[DOMNode]] = [
    ConsoleApp,
    MainScreen,
    ConsoleView,
    ConsoleTable,
    ExecutionListView,
    FlowsView,
    TriggersView,
    EventsView,
    ExecutionDetailScreen,
    FlowDetailScreen,
    JsonEditorScreen,
    ConfirmScreen,
    CommandPrompt,
    RawJsonScreen,
    TimesScreen,
    HelpScreen,
]


def all_bindings() -> list[Binding]:
    return [b for cls in CLASSES for b in cls.BINDINGS if isinstance(b, Binding)]


def test_every_binding_has_a_unique_id_per_key() -> None:
    missing = [f"{b.key} -> {b.action}" for b in all_bindings() if not b.id]
    assert missing == []
    by_id: dict[str, set[str]] = {}
    for binding in all_bindings():
        assert binding.id is not None
        by_id.setdefault(binding.id, set()).add(binding.key)
    assert {i: k for i, k in by_id.items() if len(k) > 1} == {}, "one id, one key (a keymap remaps by id)"


def test_the_readme_lists_every_binding_id() -> None:
    text = README.read_text()
    undocumented = sorted({b.id or "" for b in all_bindings() if f"`{b.id}`" not in text})
    assert undocumented == []


def test_no_ctrl_key_changes_state() -> None:
    mutating = {"resume", "cancel", "retry", "start", "fire", "pause", "quit"}
    offenders = [b.key for b in all_bindings() if "ctrl" in b.key and b.action.split(".")[-1] in mutating]
    assert offenders == []
