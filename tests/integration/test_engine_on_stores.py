"""The engine's behaviour suite (``tests/unit/test_engine*.py``), unchanged, on SQLite and PostgreSQL.

The unit suite runs on ``MemoryStore``; here each of its tests is collected again with the
``store`` fixture bound to a real SQLite file and a fresh PostgreSQL database, so every
rule of the engine is checked on every durable store.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from flowmonkey.stores import Store
from tests.unit.conftest import FakeClock

for _path in sorted((Path(__file__).parents[1] / "unit").glob("test_engine*.py")):
    _suite = importlib.import_module(f"tests.unit.{_path.stem}")
    globals().update({name: test for name, test in vars(_suite).items() if name.startswith("test_")})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/flowmonkey.db"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
