"""Whether a key's action can be used now, and if not, why.

Views and screens answer :meth:`Gated.availability` for their actions. The key bar shows
an action that is not usable marked (``✗r Resume``) or not at all, and pressing its key
says why (the app asks before it runs any action), instead of doing nothing or opening
a dialog that can only fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from flowmonkey import ExecutionStatus

READONLY = "read-only console (--readonly): nothing can be changed from here"

# Actions that change state: refused with --readonly.
MUTATING_ACTIONS = frozenset(
    {"resume", "cancel", "retry", "skip", "fail", "fork", "migrate", "start", "fire", "pause"}
)

# The statuses each execution action applies to.
APPLIES_TO: dict[str, frozenset[ExecutionStatus]] = {
    "resume": frozenset({ExecutionStatus.WAITING}),
    "cancel": frozenset(
        {ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING, ExecutionStatus.HELD}
    ),
    "retry": frozenset({ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.HELD}),
    "skip": frozenset({ExecutionStatus.HELD}),
    "fail": frozenset({ExecutionStatus.HELD}),
}
_APPLIES_WORDS = {
    "resume": "waiting",
    "cancel": "pending, running, waiting or held",
    "retry": "failed, cancelled or held",
    "skip": "held",
    "fail": "held",
}


@dataclass(frozen=True, slots=True)
class Availability:
    """``reason`` is None when the action can be used (``""``: unusable, nothing to say);
    ``shown``: listed in the key bar."""

    reason: str | None = None
    shown: bool = True

    @property
    def usable(self) -> bool:
        return self.reason is None


USABLE = Availability()


def disabled(reason: str) -> Availability:
    """Shown, marked as unusable; the key says ``reason``."""
    return Availability(reason, shown=True)


def hidden(reason: str) -> Availability:
    """Not shown (it does not apply here); the key still says ``reason``."""
    return Availability(reason, shown=False)


@runtime_checkable
class Gated(Protocol):
    """A node whose actions may be unusable for now."""

    def availability(self, action: str) -> Availability: ...


def readonly_gate(readonly: bool, action: str) -> Availability | None:
    """The refusal of a state-changing ``action`` on a read-only console, else None."""
    return disabled(READONLY) if readonly and action in MUTATING_ACTIONS else None


def for_statuses(action: str, statuses: Iterable[ExecutionStatus], what: str) -> Availability:
    """Whether execution ``action`` applies to executions in ``statuses`` (``what`` names them)."""
    applies = APPLIES_TO.get(action)
    seen = set(statuses)
    if applies is None or seen & applies:
        return USABLE
    found = ", ".join(sorted(status.value for status in seen)) or "gone"
    return hidden(f"{action} applies to {_APPLIES_WORDS[action]} executions; {what} is {found}")
