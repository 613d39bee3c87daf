"""``Change``: one compare-and-set commit of an execution, computed before it is written.

The engine decides what a step (or a resume, a wake, a cancel) changes, as a small dict
of the :class:`~flowmonkey.model.Execution` fields that move, and hands the store one
``Change``. The store writes it only if the stored revision is still the one the change
was computed from. Only then does the engine :meth:`~Change.apply` it to its own object,
so a lost commit leaves the caller's execution exactly as it was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowmonkey.model import Execution, StepRecord


@dataclass(slots=True)
class Change:
    """The fields that change on ``base`` and the history record the change appends.

    Treat it as a value: it is built once, where the decision is made, and not changed.

    Attributes:
        base: the execution as read; its ``revision`` is the one the store compares.
        fields: Execution attribute name -> new value. ``revision`` is always there.
        record: the history entry this change appends (None for a wake).
        wake_parent: the parent to wake in the same transaction: the change ends a child
            execution, so the parent's step that waits on it runs again (and a commit the
            parent is about to make loses its compare-and-set and re-reads). A crash can
            never fall between a child's end and its parent's wake.
    """

    base: Execution
    fields: Mapping[str, Any]
    record: StepRecord | None = None
    wake_parent: str | None = None

    @property
    def execution_id(self) -> str:
        return self.base.id

    @property
    def expected_revision(self) -> int:
        return self.base.revision

    @property
    def revision(self) -> int:
        revision: int = self.fields["revision"]
        return revision

    @property
    def at(self) -> Any:
        """When the change happens (its ``updated_at``)."""
        return self.fields["updated_at"]

    def value(self, name: str) -> Any:
        """The field's value once the change applies."""
        fields = self.fields
        return fields[name] if name in fields else getattr(self.base, name)

    def apply(self) -> Execution:
        """Move the changed fields onto ``base`` (after the store accepted them)."""
        self.base.__dict__.update(self.fields)
        return self.base
