"""The engine's clock: real time plus the time a dry run skipped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta


class Clock:
    """``now()`` is ``source() + skipped``; ``run(simulate_time=True)`` skips over waits."""

    __slots__ = ("_skew", "_source")

    def __init__(self, source: Callable[[], datetime]) -> None:
        self._source = source
        self._skew = timedelta(0)

    def now(self) -> datetime:
        return self._source() + self._skew

    def skip(self, delta: timedelta) -> None:
        """Jump ahead by ``delta`` (never back)."""
        self._skew += max(delta, timedelta(0))
