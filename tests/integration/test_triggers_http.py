"""Webhooks against a real uvicorn server on 127.0.0.1, spoken to with httpx.

Note for the store engineer: no new TriggerDefinition fields are needed; the service keeps
``config["flowHash"]`` (the definition a trigger starts) inside ``config``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from flowmonkey import Engine, ExecutionStatus, ExpiredTokenError, Flow, MemoryStore
from flowmonkey.triggers import (
    SIGNATURE_HEADER,
    HttpServer,
    HttpTriggers,
    TriggerService,
    resume_token,
    serve_http,
    sign_body,
    sign_request,
)
from tests.unit.helpers import BASIC, chain

SCHEMA = {
    "type": "object",
    "required": ["order"],
    "properties": {
        "order": {
            "type": "object",
            "required": ["id", "total"],
            "properties": {"id": {"type": "string"}, "total": {"type": "number", "minimum": 0}},
        }
    },
}


@dataclass
class Site:
    service: TriggerService
    engine: Engine
    server: HttpServer
    client: httpx.AsyncClient


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    store = MemoryStore()
    flows = [Flow.from_dict(chain("orders", ["echo"])), Flow.from_dict(chain("approve", ["wait", "echo"]))]
    engine = Engine(store, BASIC, flows)
    service = TriggerService(store, engine, secret="service-secret", schedule=None)
    await service.register("order", type="http", flow_id="orders", config={"inputSchema": SCHEMA})
    await service.register("signed", type="http", flow_id="orders", config={"secret": "s3cret"})
    await service.register("off", type="http", flow_id="orders", enabled=False)
    server = await serve_http(service, "127.0.0.1", 0)
    async with httpx.AsyncClient(base_url=f"{server.url}/webhooks", timeout=10) as client:
        yield Site(service, engine, server, client)
    await server.stop()


GOOD = {"order": {"id": "A-1", "total": 12.5}}


async def test_a_valid_post_starts_the_flow_and_answers_201(site: Site) -> None:
    response = await site.client.post("/order", json=GOOD)
    assert response.status_code == 201
    execution = await site.engine.get(response.json()["executionId"])
    assert execution is not None and execution.flow_id == "orders"
    assert execution.context == {"input": GOOD}
    assert (await site.service.history("order"))[0].status == "ok"


async def test_the_server_listens_on_loopback_only(site: Site) -> None:
    assert site.server.host == "127.0.0.1" and site.server.port > 0


async def test_unknown_trigger_is_404(site: Site) -> None:
    response = await site.client.post("/nope", json={})
    assert response.status_code == 404
    assert "nope" in response.json()["error"]


async def test_disabled_trigger_is_403_and_recorded(site: Site) -> None:
    response = await site.client.post("/off", json={})
    assert response.status_code == 403
    assert (await site.service.history("off"))[0].status == "rejected"


async def test_schema_errors_are_400_with_every_error_and_its_path(site: Site) -> None:
    response = await site.client.post("/order", json={"order": {"total": -1}, "extra": 1})
    assert response.status_code == 400
    body = response.json()
    assert "inputSchema" in body["error"]
    assert body["errors"] == [
        {"path": "$.order.id", "message": "'id' is a required property"},
        {"path": "$.order.total", "message": "-1 is less than the minimum of 0"},
    ]
    [fire] = await site.service.history("order")
    assert fire.status == "rejected" and fire.execution_id is None


async def test_a_json_null_body_is_checked_against_the_schema_too(site: Site) -> None:
    response = await site.client.post("/order", content=b"null", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": "$", "message": "None is not of type 'object'"}]
    plain = await site.client.post(
        "/signed",
        content=b"null",
        headers={"content-type": "application/json", "authorization": "Bearer s3cret"},
    )
    assert plain.status_code == 201
    execution = await site.engine.get(plain.json()["executionId"])
    assert execution is not None and execution.context == {"input": None}


async def test_invalid_json_is_400(site: Site) -> None:
    response = await site.client.post(
        "/order", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "$"


async def test_not_json_content_type_is_415(site: Site) -> None:
    response = await site.client.post("/order", content=b"a=1", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    vendor = await site.client.post(
        "/signed",
        content=b"{}",
        headers={"content-type": "application/vnd.x+json", "authorization": "Bearer s3cret"},
    )
    assert vendor.status_code == 201


async def test_body_over_the_limit_is_413_by_header_and_by_stream(site: Site) -> None:
    big = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
    response = await site.client.post("/order", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(20):
            yield b" " * 65536
        yield b"{}"

    streamed = await site.client.post(
        "/order", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413


async def test_secret_needs_a_bearer_token_or_a_timestamped_signature(site: Site) -> None:
    body = json.dumps({"n": 1}).encode()
    headers = {"content-type": "application/json"}
    missing = await site.client.post("/signed", content=body, headers=headers)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert "t=<unix seconds>,v1=" in missing.json()["error"]
    wrong = await site.client.post(
        "/signed", content=body, headers={**headers, "authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    bearer = await site.client.post(
        "/signed", content=body, headers={**headers, "authorization": "Bearer s3cret"}
    )
    assert bearer.status_code == 201
    signed = await site.client.post(
        "/signed", content=body, headers={**headers, SIGNATURE_HEADER: sign_request("s3cret", body)}
    )
    assert signed.status_code == 201
    tampered = await site.client.post(
        "/signed",
        content=b'{"n": 2}',
        headers={**headers, SIGNATURE_HEADER: sign_request("s3cret", body)},
    )
    assert tampered.status_code == 401
    body_only = await site.client.post(
        "/signed", content=body, headers={**headers, SIGNATURE_HEADER: sign_body("s3cret", body)}
    )
    assert body_only.status_code == 401 and "no longer accepted" in body_only.json()["error"]
    statuses = [f.status for f in await site.service.history("signed")]
    assert statuses.count("rejected") == 4 and statuses.count("ok") == 2


async def test_idempotency_key_returns_the_same_execution_with_200(site: Site) -> None:
    headers = {"Idempotency-Key": "order-A-1"}
    first = await site.client.post("/order", json=GOOD, headers=headers)
    second = await site.client.post("/order", json=GOOD, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["executionId"] == second.json()["executionId"]
    other = await site.client.post("/order", json=GOOD, headers={"Idempotency-Key": "order-A-2"})
    assert other.status_code == 201 and other.json()["executionId"] != first.json()["executionId"]


async def test_resume_token_resumes_the_waiting_execution(site: Site) -> None:
    execution, _ = await site.engine.create("approve", {})
    execution = await site.engine.run(execution.id)
    assert execution.status is ExecutionStatus.WAITING
    assert execution.current_step_id is not None
    token = site.service.resume_token(execution.id, execution.current_step_id, visit=execution.visit)

    forged = await site.client.post(f"/resume/{token[:-3]}xyz", json={"approved": True})
    assert forged.status_code == 401
    response = await site.client.post(f"/resume/{token}", json={"approved": True})
    assert response.status_code == 200
    assert response.json() == {"executionId": execution.id, "status": "running"}
    assert [r.outcome.value for r in await site.engine.store.history(execution.id)][-1] == "resumed"
    again = await site.client.post(f"/resume/{token}", json={"approved": True})
    assert again.status_code == 409


async def test_an_expired_resume_token_is_410_and_resumes_nothing(site: Site) -> None:
    execution, _ = await site.engine.create("approve", {})
    execution = await site.engine.run(execution.id)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    token = resume_token(
        execution.id,
        "s0",
        visit=execution.visit,
        secret="service-secret",
        ttl=timedelta(minutes=5),
        now=an_hour_ago,
    )
    response = await site.client.post(f"/resume/{token}", json={"approved": True})
    assert response.status_code == 410
    assert "resume token expired at" in response.json()["error"]
    assert (await site.engine.get(execution.id)).status is ExecutionStatus.WAITING  # type: ignore[union-attr]


async def test_routes_mount_on_an_existing_app_under_a_custom_base() -> None:
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("orders", ["echo"]))])
    app = Starlette()
    service = TriggerService(store, engine, http=HttpTriggers(app=app, base_path="/hooks/"), schedule=None)
    await service.register("h", type="http", flow_id="orders", config={"path": "incoming/orders"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.post("/hooks/h", json={})).status_code == 201
        assert (await client.post("/hooks/incoming/orders", json={})).status_code == 201
        assert (await client.post("/webhooks/h", json={})).status_code == 404


async def test_the_worker_hosts_the_triggers_with_the_secret_of_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse

    from flowmonkey import worker

    monkeypatch.setenv("FLOWMONKEY_SECRET", "worker-secret")
    parser = argparse.ArgumentParser()
    worker.configure_parser(parser)
    args = parser.parse_args(["--http", "127.0.0.1:0"])
    assert worker.parse_address(":8080") == ("127.0.0.1", 8080) and worker.parse_address("[::1]:9") == (
        "::1",
        9,
    )
    with pytest.raises(argparse.ArgumentTypeError, match="HOST:PORT"):
        worker.parse_address("localhost")
    declared = Flow.from_dict({**chain("orders", ["echo"]), "triggers": [{"id": "in", "type": "http"}]})
    store = MemoryStore()
    engine = Engine(store, BASIC, [declared, Flow.from_dict(chain("approve", ["wait", "echo"]))])
    waiting, _ = await engine.create("approve", {})
    await engine.run(waiting.id)
    token = resume_token(waiting.id, "s0", visit=0, secret="worker-secret")  # e.g. issued by another worker
    async with worker.host_triggers(args, store, engine) as hosted:
        assert hosted.service.scheduler_enabled and hosted.server is not None
        async with httpx.AsyncClient(base_url=hosted.server.url) as client:
            started = await client.post("/webhooks/in", json={"x": 1})
            resumed = await client.post(f"/webhooks/resume/{token}", json={"ok": True})
        assert (started.status_code, resumed.status_code) == (201, 200)
    assert hosted.server.task.done()
    quiet = parser.parse_args(["--no-schedule"])
    async with worker.host_triggers(quiet, store, engine) as hosted:
        assert not hosted.service.scheduler_enabled and hosted.server is None


async def test_a_flow_that_cannot_start_is_a_500_not_a_503_and_recorded_as_failed(site: Site) -> None:
    await site.service.register("ghost", type="http", flow_id="not-loaded")
    response = await site.client.post("/ghost", json={})
    assert response.status_code == 500 and "retry-after" not in response.headers  # no store outage
    assert response.json() == {
        "error": "the trigger's flow is not loaded on this server",
        "code": "FLOW_NOT_FOUND",
    }
    [fire] = await site.service.history("ghost")
    assert fire.status == "failed" and "not-loaded" in (fire.error or "")


async def test_responses_are_not_held_back_by_nagle(site: Site) -> None:
    # Without TCP_NODELAY on the served socket every answer waits ~40 ms for a delayed ACK.
    timings = []
    for _ in range(11):
        began = time.perf_counter()
        await site.client.post("/nope", json={})
        timings.append(time.perf_counter() - began)
    assert sorted(timings)[5] < 0.02, f"median webhook round trip {sorted(timings)[5] * 1000:.1f} ms"


async def test_the_worker_reads_fallback_secrets_and_the_old_tokens_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse

    from flowmonkey import worker
    from flowmonkey.errors import InvalidArgumentError

    parser = argparse.ArgumentParser()
    worker.configure_parser(parser)
    args = parser.parse_args(["--no-schedule"])
    store = MemoryStore()
    engine = Engine(store, BASIC, [Flow.from_dict(chain("approve", ["wait", "echo"]))])
    first, _ = await engine.create("approve", {})
    second, _ = await engine.create("approve", {})
    first, second = [await engine.run(e.id) for e in (first, second)]
    monkeypatch.setenv("FLOWMONKEY_SECRET", "new")
    monkeypatch.setenv("FLOWMONKEY_SECRET_FALLBACKS", "older, old")
    monkeypatch.setenv("FLOWMONKEY_LEGACY_TOKENS_UNTIL", "2000-01-01")
    async with worker.host_triggers(args, store, engine) as hosted:
        signed_before = resume_token(first.id, "s0", visit=first.visit, secret="old")
        assert (await hosted.service.resume_with_token(signed_before, {})).status is ExecutionStatus.RUNNING
        old_form = sign_body_token(b"new", second.id, "s0")  # FlowMonkey 0.1's form, past the cut-off
        with pytest.raises(ExpiredTokenError, match="accepted until 2000-01-01"):
            await hosted.service.resume_with_token(old_form, {})
    monkeypatch.setenv("FLOWMONKEY_LEGACY_TOKENS_UNTIL", "soon")
    with pytest.raises(InvalidArgumentError, match="ISO 8601"):
        async with worker.host_triggers(args, store, engine):
            pass


def sign_body_token(secret: bytes, *fields: str) -> str:
    import base64
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode("\n".join(fields).encode()).rstrip(b"=").decode()
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_the_console_reads_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowmonkey_console.options import parse_options

    monkeypatch.setenv("FLOWMONKEY_SECRET", "new")
    monkeypatch.setenv("FLOWMONKEY_SECRET_FALLBACKS", "old")
    monkeypatch.setenv("FLOWMONKEY_LEGACY_TOKENS_UNTIL", "2026-09-01T00:00:00Z")
    options = parse_options([])
    assert options.secret == ("new", "old")
    assert options.legacy_tokens_until == datetime(2026, 9, 1, tzinfo=UTC)
    monkeypatch.setenv("FLOWMONKEY_LEGACY_TOKENS_UNTIL", "soon")
    with pytest.raises(SystemExit) as exited:
        parse_options([])
    assert exited.value.code == 2
