from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from flowmonkey import MemoryStore, Store


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self.readings = 0

    def __call__(self) -> datetime:
        self.readings += 1
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def store() -> Store:
    return MemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


FlowFactory = Callable[..., dict[str, object]]
