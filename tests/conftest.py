"""Shared fixtures: real PostgreSQL and Redis when available.

Tests that need a service use the ``postgres_dsn`` / ``redis_url`` fixtures. When the
service is down they skip with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

POSTGRES_DSN = os.environ.get("FLOWMONKEY_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FLOWMONKEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> str:
    """Return ``url`` if the service answers; skip (or fail under CI) otherwise."""
    if _reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url} (set FLOWMONKEY_TEST_{name.upper()}_{'DSN' if name == 'postgres' else 'URL'})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    return require_service("postgres", POSTGRES_DSN, 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_service("redis", REDIS_URL, 6379)


# -- stores: every Store implementation behind one fixture ---------------------------------
#
# ``any_store`` runs a test on memory, SQLite and PostgreSQL. Each PostgreSQL test gets its
# own database, cloned from a template that already has the schema (CREATE DATABASE ...
# TEMPLATE ...), which is much faster than applying the schema per test.

import asyncio  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import pytest_asyncio  # noqa: E402

from flowmonkey.stores import Store, open_store  # noqa: E402

STORE_KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


async def _admin(dsn: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_with_database(dsn, "postgres"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _make_template(dsn: str, name: str) -> None:
    from flowmonkey.stores.postgres import PostgresStore

    await _admin(dsn, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    async with PostgresStore(_with_database(dsn, name), min_size=1, max_size=1):
        pass  # opening applies the schema


@pytest.fixture(scope="session")
def postgres_template(postgres_dsn: str) -> Iterator[str]:
    """A database with the FlowMonkey schema applied, to clone per test."""
    name = f"flowmonkey_tmpl_{uuid.uuid4().hex[:10]}"
    asyncio.run(_make_template(postgres_dsn, name))
    yield name
    asyncio.run(_admin(postgres_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_database(postgres_dsn: str, postgres_template: str) -> Iterator[str]:
    """The URL of a fresh database (schema applied) of this test's own; dropped after."""
    name = f"flowmonkey_t_{uuid.uuid4().hex[:12]}"
    clone = f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'
    asyncio.run(_admin(postgres_dsn, clone))
    yield _with_database(postgres_dsn, name)
    asyncio.run(_admin(postgres_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_postgres_database(postgres_dsn: str) -> Iterator[str]:
    """The URL of a database of this test's own without the FlowMonkey schema (an upgrade
    test builds an older schema in it); dropped after."""
    name = f"flowmonkey_e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_dsn, f'CREATE DATABASE "{name}"'))
    yield _with_database(postgres_dsn, name)
    asyncio.run(_admin(postgres_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of each store kind (memory, a temp SQLite file, a fresh PostgreSQL database).

    Narrow the kinds with ``@pytest.mark.parametrize("store_url", [...], indirect=True)``.
    """
    kind = request.param
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'flowmonkey.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest_asyncio.fixture
async def any_store(store_url: str) -> AsyncIterator[Store]:
    """An opened store of each kind: memory, SQLite (a temp file) and PostgreSQL."""
    async with open_store(store_url) as store:
        yield store
