"""What a :class:`~flowmonkey.runtime.Runtime` reports about its work so far."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeStats:
    """What a runtime has done so far (a snapshot)."""

    steps: int
    """Steps this runtime committed."""
    conflicts: int
    """Steps whose commit lost to another writer (their outcome was discarded)."""
    claimed: int
    """Executions claimed in total."""
    takeovers: int
    """Claims of executions another runtime held until its lease lapsed (it was lost)."""
    in_flight: int
    """Executions being stepped right now."""
    timeouts: int
    """Executions this runtime cancelled because their timeout passed."""
    lock_skips: int
    """Claims given back because another runtime held the execution's lock."""
    passes: int
    """Looks at the store (each is a claim, plus ``next_wake_at`` when there were free
    slots left, plus a timeout sweep when one is due)."""
