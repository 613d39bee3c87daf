from __future__ import annotations

import pytest

from tests.console.support import FrozenClock


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()
