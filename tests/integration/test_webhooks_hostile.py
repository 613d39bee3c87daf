"""Hostile webhook bodies and store failures against a real uvicorn server, on every store.

Each case asserts the answer (a 4xx with a reason and a JSON path, never a 500 or a 503)
and what was stored: no execution, and the refusal in the trigger's history. A 503 comes
only from a store that is down, and no body ever names a host, a DSN, a file or a trace.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from flowmonkey import ExecutionStatus, InvalidArgumentError, MemoryStore, Store, StoreError, open_store
from flowmonkey.model import Execution
from flowmonkey.stores import CreateResult
from flowmonkey.triggers import HttpTriggers
from tests.conftest import _admin
from tests.integration.webhook_support import JSON, Site, TcpProxy, assert_clean, open_site

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def site(any_store: Store) -> AsyncIterator[Site]:
    async with open_site(any_store) as opened:
        yield opened


HOSTILE: dict[str, tuple[bytes, str, str]] = {
    # name: (body, the path of the problem, words of the reason)
    "nested 10,000 deep": (b"[" * 10_000 + b"]" * 10_000, "$", "10000 deep; at most 128"),
    "a 5,000-digit integer": (b'{"n": ' + b"7" * 5000 + b"}", "$.n", "integer of 5000 digits"),
    "NaN": (b'{"order": {"total": NaN}}', "$.order.total", "is NaN"),
    "Infinity": (b'{"items": [1, Infinity]}', "$.items[1]", "is Infinity"),
    "-Infinity": (b'{"t": -Infinity}', "$.t", "is -Infinity"),
    "a number past a double": (b'{"x": 1e999}', "$.x", "too large for a double"),
    "a NUL character": (b'{"note": "a\\u0000b"}', "$.note", "NUL character"),
    "a NUL in a key": (b'{"k\\u0000": 1}', "$", "key that contains a NUL"),
    "a lone surrogate": (b'{"name": ["ok", "\\ud800"]}', "$.name[1]", "lone surrogate"),
    "not UTF-8": (b'{"a": "\xff"}', "$", "not UTF-8"),
    "NaN after half a million numbers": (b"[" + b"1," * 500_000 + b"NaN]", "$[500000]", "is NaN"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_a_hostile_body_is_a_400_with_its_path_and_stores_nothing(site: Site, case: str) -> None:
    body, path, reason = HOSTILE[case]
    response = await site.post("/open", body)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["path"] == path and reason in error["message"], error
    assert_clean(response)
    assert await site.executions() == 0
    assert await site.fire_statuses("open") == ["rejected"]


async def test_the_same_bodies_are_refused_when_resuming(site: Site) -> None:
    waiting, _ = await site.engine.create("approve", {})
    waiting = await site.engine.run(waiting.id)
    token = site.service.resume_token(waiting.id, "s0", visit=waiting.visit)
    for body, path, _ in HOSTILE.values():
        response = await site.post(f"/resume/{token}", body)
        assert response.status_code == 400 and response.json()["errors"][0]["path"] == path
    still = await site.engine.get(waiting.id)
    assert still is not None and still.status is ExecutionStatus.WAITING
    assert [r.outcome.value for r in await site.store.history(waiting.id)] == ["waiting"]


async def test_good_json_next_to_the_hostile_cases_is_accepted(site: Site) -> None:
    body = json.dumps(
        {
            "deep": json.loads("[" * 127 + "]" * 127),
            "n": int("9" * 4300),
            "emoji": "\ud83d\ude00",
            "e": 1e308,
        },
        ensure_ascii=True,
    ).encode()
    response = await site.post("/open", body)
    assert response.status_code == 201, response.text
    execution = await site.engine.get(response.json()["executionId"])
    assert execution is not None and execution.context["input"]["emoji"] == "😀"
    assert execution.context["input"]["n"] == int("9" * 4300)


async def test_an_oversize_body_is_a_413_and_stores_nothing(site: Site) -> None:
    big = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
    response = await site.post("/open", big)
    assert response.status_code == 413 and "over the limit" in response.json()["error"]
    assert await site.executions() == 0 and await site.fire_statuses("open") == ["rejected"]


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
async def test_the_nesting_limit_is_set_on_the_http_triggers(any_store: Store) -> None:
    async with open_site(any_store, http=HttpTriggers(max_depth=4)) as site:
        deep = await site.post("/open", b'{"a": [[[1]]]}')  # 4 levels
        deeper = await site.post("/open", b'{"a": [[[[1]]]]}')  # 5 levels
    assert deep.status_code == 201
    assert deeper.status_code == 400 and "5 deep; at most 4" in deeper.json()["errors"][0]["message"]
    assert await site.executions() == 1
    with pytest.raises(InvalidArgumentError, match="max_depth must be 1 to 128"):
        HttpTriggers(max_depth=1000)


async def test_a_payload_a_root_context_cannot_take_is_a_400(site: Site) -> None:
    await site.service.register("root", type="http", flow_id="orders", config={"contextKey": ""})
    response = await site.post("/root", b"[1, 2]")
    assert response.status_code == 400 and "must be a JSON object" in response.json()["error"]
    assert await site.executions() == 0


# -- the store: outages answer 503, nothing else does, and nothing leaks ----------------------


CANARY_PASSWORD = "CanaryPassw0rd"


@pytest.fixture
def canary_dsn(postgres_dsn: str, postgres_template: str) -> Iterator[str]:
    """A fresh database, reached by a DSN with a recognisable host name and password."""
    name = f"flowmonkey_canary_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(postgres_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    parts = urlsplit(postgres_dsn)
    user = parts.username or "postgres"
    yield urlunsplit(
        parts._replace(netloc=f"{user}:{CANARY_PASSWORD}@localhost:{parts.port or 5432}", path=f"/{name}")
    )
    asyncio.run(_admin(postgres_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def canaries(dsn: str) -> tuple[str, ...]:
    parts = urlsplit(dsn)
    return ("localhost", CANARY_PASSWORD, parts.path.strip("/"), "5432", "127.0.0.1")


@pytest.mark.postgres
async def test_on_postgresql_nan_is_a_400_not_a_503_naming_the_database(canary_dsn: str) -> None:
    async with open_store(canary_dsn, min_size=1, max_size=4) as store, open_site(store) as site:
        responses = [await site.post("/open", body) for body, _, _ in HOSTILE.values()]
        for response in responses:
            assert response.status_code == 400, response.text
            assert_clean(response, *canaries(canary_dsn))
        assert await site.executions() == 0
        assert await site.fire_statuses("open") == ["rejected"] * len(HOSTILE)


@pytest.mark.postgres
async def test_a_dropped_database_answers_cleanly_and_the_retry_succeeds_once_it_is_back(
    canary_dsn: str, postgres_dsn: str, postgres_template: str
) -> None:
    name = urlsplit(canary_dsn).path.strip("/")
    async with open_store(canary_dsn, min_size=1, max_size=2) as store, open_site(store) as site:
        assert (await site.post("/open", b"{}")).status_code == 201
        await _admin(postgres_dsn, f'DROP DATABASE "{name}" WITH (FORCE)')
        down = [await site.post("/open", b'{"n": 1}') for _ in range(3)]
        hostile = await site.post("/open", b"[" * 10_000)
        await _admin(postgres_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
        await _eventually(lambda: site.service.register("open", type="http", flow_id="orders"))
        back = await _eventually_created(site)
        assert await site.executions() == 1  # the new database holds the retry, and only it
        stored = await site.engine.get(back)
        assert stored is not None and stored.context == {"input": {"n": 1}}
    # The connections cut are an outage (503, Retry-After); a server that then says the
    # database does not exist is not one a retry can ride out (500). Either way: no names.
    for response in down:
        assert response.status_code in (500, 503), response.text
        assert ("retry-after" in response.headers) is (response.status_code == 503)
        assert response.json()["code"] == "STORE_ERROR"
        assert_clean(response, *canaries(canary_dsn))
    assert hostile.status_code in (400, 500, 503)
    assert_clean(hostile, *canaries(canary_dsn))


@pytest.mark.postgres
async def test_postgresql_out_of_reach_is_a_clean_503_and_the_retry_succeeds_once_it_is_back(
    postgres_database: str,
) -> None:
    parts = urlsplit(postgres_database)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    user = parts.username or "postgres"
    dsn = urlunsplit(parts._replace(netloc=f"{user}:{CANARY_PASSWORD}@localhost:{proxy.port}"))
    try:
        async with open_store(dsn, min_size=1, max_size=2) as store, open_site(store) as site:
            assert (await site.post("/open", b"{}")).status_code == 201
            waiting, _ = await site.engine.create("approve", {})
            waiting = await site.engine.run(waiting.id)
            token = site.service.resume_token(waiting.id, "s0", visit=waiting.visit)
            await proxy.stop()  # the network between the worker and PostgreSQL is gone
            down = [await site.post("/open", b'{"n": 1}') for _ in range(3)]
            down.append(await site.post(f"/resume/{token}", b'{"approved": true}'))
            hostile = await site.post("/open", b'{"x": NaN}')
            await proxy.start()
            back = await _eventually_created(site)
            assert await site.executions() == 2  # the one before, the retry after: nothing from the outage
            assert [r.outcome.value for r in await store.history(waiting.id)] == ["waiting"]
            resumed = await site.post(f"/resume/{token}", b'{"approved": true}')
            assert resumed.status_code == 200  # the sender's retry, once the store is back
    finally:
        await proxy.stop()
    for response in down:
        assert response.status_code == 503 and response.headers["retry-after"] == "5", response.text
        assert response.json() == {
            "error": "the store is unavailable; try again later",
            "code": "STORE_ERROR",
        }
        assert_clean(response, CANARY_PASSWORD, "localhost", str(proxy.port), parts.path.strip("/"))
    assert hostile.status_code in (400, 503) and hostile.status_code != 500
    assert back


async def _eventually(attempt: Callable[[], Awaitable[object]]) -> None:
    """Run ``attempt`` until the store answers again (the pool reconnects)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            await attempt()
            return
        except StoreError:
            assert asyncio.get_running_loop().time() < deadline, "the store never came back"
            await asyncio.sleep(0.2)


async def _eventually_created(site: Site) -> str:
    """POST until the store answers again (the pool reconnects); the execution's id."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        response = await site.post("/open", b'{"n": 1}')
        if response.status_code == 201:
            return str(response.json()["executionId"])
        assert response.status_code == 503, response.text
        assert asyncio.get_running_loop().time() < deadline, "the store never came back"
        await asyncio.sleep(0.2)


async def test_a_closed_store_is_a_500_not_an_outage_and_names_no_file(tmp_path: Path) -> None:
    # Closing a store under a server that still serves is a bug of the host, not an outage
    # a sender could wait out: no Retry-After.
    url = f"sqlite:///{tmp_path / 'closing.db'}"
    async with open_store(url) as store, open_site(store) as site:
        await store.close()
        down = await site.post("/open", b"{}")
        await store.open()
        assert (await site.post("/open", b"{}")).status_code == 201
        assert await site.executions() == 1
    assert down.status_code == 500 and "retry-after" not in down.headers
    assert down.json() == {"error": "starting the flow failed on the server", "code": "STORE_ERROR"}
    assert_clean(down, str(tmp_path), "closing.db")


class FailingStore(MemoryStore):
    """A MemoryStore whose creates fail as a driver's would: the message names the database."""

    def __init__(self, cause: Exception) -> None:
        super().__init__()
        self.cause = cause

    async def create_execution(self, execution: Execution, *, now: object) -> CreateResult:
        dsn = f"postgresql://app:{CANARY_PASSWORD}@db.internal.example:5432/prod"
        transient = isinstance(self.cause, OSError)  # as the stores classify a driver's error
        raise StoreError(
            f"create_execution failed on {dsn}: {self.cause}", transient=transient
        ) from self.cause


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        (ConnectionResetError("connection reset by peer"), 503),  # an outage: retry later
        (ValueError("value too long for type character varying(64)"), 500),  # will never pass
    ],
)
async def test_a_store_failure_is_503_only_when_transient_and_never_leaks(
    cause: Exception, status: int
) -> None:
    store = FailingStore(cause)
    async with open_site(store) as site:
        response = await site.post("/open", b"{}")
    assert response.status_code == status, response.text
    assert ("retry-after" in response.headers) is (status == 503)
    assert_clean(response, "db.internal.example", CANARY_PASSWORD, "prod", "too long", "reset")
    [fire] = await site.service.history("open")
    assert fire.status == "failed" and "db.internal.example" in (fire.error or "")  # for the operator
    assert await site.executions() == 0


async def test_a_500_from_an_unexpected_error_carries_no_traceback(tmp_path: Path) -> None:
    class Broken(MemoryStore):
        async def create_execution(self, execution: Execution, *, now: object) -> CreateResult:
            raise RuntimeError(f"bug at {tmp_path}/flowmonkey/x.py line 3")

    async with open_site(Broken()) as site:
        response = await site.client.post("/open", content=b"{}", headers=JSON)
    assert response.status_code == 500
    assert_clean(response, str(tmp_path))
