"""What the backend hands the views: the outcome of an action, a trigger with its last fire."""

from __future__ import annotations

from dataclasses import dataclass, field

from flowmonkey import TriggerDefinition, TriggerFire


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionReport:
    """What a (bulk) action did: the ids it changed, the executions it made, and why not
    for the others."""

    verb: str
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    """New executions the action started (a retry's), in the order of ``done``."""

    @property
    def affected(self) -> str | None:
        """The execution an operator most likely wants to see next: the first one made,
        else the first one changed."""
        return next(iter(self.created or self.done), None)

    def summary(self) -> str:
        """``cancelled 01KC…`` / ``retried 01KC…`` and ``as 01KD…`` / ``resumed 3, 1 refused (…)``.

        Ids in full, one to a line: a toast is narrow, and an id cut in two is no id.
        """
        if len(self.done) == 1:
            text = f"{self.verb} {self.done[0]}"
            if self.created:
                text += f"\nas {self.created[0]}"
        else:
            text = f"{self.verb} {len(self.done)} executions"
        if self.failed:
            first_id, reason = self.failed[0]
            text += f", {len(self.failed)} refused ({first_id}: {reason})"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerState:
    """A trigger and its last fire (None when it never fired)."""

    definition: TriggerDefinition
    last_fire: TriggerFire | None
