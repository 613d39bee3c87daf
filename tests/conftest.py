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
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
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
