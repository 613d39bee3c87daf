"""The ``:`` commands: their names, completion, and what a typed prefix means.

A command runs from any prefix that names it alone (``:wa`` is ``:waits``); ``tab``
completes as far as the names agree. Text that names no command is taken for part of an
execution id by the screen.
"""

from __future__ import annotations

from dataclasses import dataclass

QUIT = "quit"

# Each name a person may type, and what it does: a view id, or quit.
COMMANDS: dict[str, str] = {
    "flows": "flows",
    "executions": "executions",
    "exec": "executions",
    "waits": "waits",
    "triggers": "triggers",
    "events": "events",
    "quit": QUIT,
}
SHOWN = ("flows", "exec", "waits", "triggers", "events", "quit")
"""The names the prompt lists (``exec`` for short; the rest are full words)."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What ``:text`` means: ``target`` (a view id or quit), else the ``candidates``."""

    target: str | None
    candidates: tuple[str, ...] = ()


def resolve(text: str) -> Resolved:
    """An exact name wins; a prefix counts when every name it begins means the same."""
    word = text.strip().lower()
    if word in COMMANDS:
        return Resolved(COMMANDS[word])
    starting = tuple(name for name in COMMANDS if word and name.startswith(word))
    targets = {COMMANDS[name] for name in starting}
    if len(targets) == 1:
        return Resolved(targets.pop(), starting)
    return Resolved(None, tuple(sorted(starting)))


def complete(text: str) -> tuple[str, tuple[str, ...]]:
    """``tab`` on ``text``: the completed text and the names still possible."""
    word = text.strip().lower()
    resolved = resolve(word)
    if resolved.target is not None and resolved.candidates:
        # One meaning: complete to its shortest name (``exe`` -> ``exec``).
        return min(resolved.candidates, key=len), ()
    if not resolved.candidates:
        return text, ()
    return _common_prefix(resolved.candidates), resolved.candidates


def _common_prefix(words: tuple[str, ...]) -> str:
    first, last = min(words), max(words)  # the prefix of these two is every word's
    size = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first))
    return first[:size]
