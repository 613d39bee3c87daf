"""Webhook signatures, redeliveries, ``GET {base}/{id}`` and resume tokens, against a real
uvicorn server on every store. Each case asserts what was stored: executions created or
not, and the seen-signature row."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from flowmonkey import Execution, ExecutionStatus, Flow, Store, open_store
from flowmonkey.triggers import SIGNATURE_HEADER, HttpTriggers, resume_token, sign_body, sign_request
from tests.integration.webhook_support import SECRET, TOKEN_SECRET, Site, assert_clean, open_site, v1_of

pytestmark = pytest.mark.timeout(120)
BODY = json.dumps({"order": {"id": "A-1", "total": 12.5}}).encode()


@pytest.fixture
async def site(any_store: Store) -> AsyncIterator[Site]:
    async with open_site(any_store) as opened:
        yield opened


async def test_a_fresh_signature_starts_the_flow_and_is_remembered(site: Site) -> None:
    header = sign_request(SECRET, BODY)
    response = await site.signed("/signed", BODY, header)
    assert response.status_code == 201
    execution_id = response.json()["executionId"]
    seen = await site.store.get_signature(trigger_id="signed", signature=v1_of(header))
    assert seen is not None and seen.execution_id == execution_id
    signed_at = int(header.split(",")[0].removeprefix("t="))
    assert seen.expires_at == datetime.fromtimestamp(signed_at, UTC) + timedelta(minutes=5)
    assert await site.executions() == 1


async def test_a_redelivery_inside_the_window_is_a_200_with_the_first_execution(site: Site) -> None:
    header = sign_request(SECRET, BODY)
    first = await site.signed("/signed", BODY, header)
    again = [await site.signed("/signed", BODY, header) for _ in range(3)]
    assert first.status_code == 201
    assert [r.status_code for r in again] == [200, 200, 200]
    assert {r.json()["executionId"] for r in again} == {first.json()["executionId"]}
    assert await site.executions() == 1
    assert await site.fire_statuses("signed") == ["ok"] * 4  # each repeat recorded, none created


async def test_a_replay_with_another_idempotency_key_header_still_creates_nothing(site: Site) -> None:
    header = sign_request(SECRET, BODY)
    first = await site.client.post(
        "/signed", content=BODY, headers={"content-type": "application/json", SIGNATURE_HEADER: header}
    )
    forged_keys = [
        await site.client.post(
            "/signed",
            content=BODY,
            headers={
                "content-type": "application/json",
                SIGNATURE_HEADER: header,
                "Idempotency-Key": f"k{i}",
            },
        )
        for i in range(3)
    ]
    assert first.status_code == 201 and {r.status_code for r in forged_keys} == {200}
    assert await site.executions() == 1


async def test_concurrent_redeliveries_start_one_execution(site: Site) -> None:
    header = sign_request(SECRET, BODY)
    responses = await asyncio.gather(*(site.signed("/signed", BODY, header) for _ in range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}, statuses
    ids = {r.json()["executionId"] for r in responses if r.status_code in (200, 201)}
    assert len(ids) == 1
    assert await site.executions() == 1
    seen = await site.store.get_signature(trigger_id="signed", signature=v1_of(header))
    assert seen is not None and seen.execution_id in ids
    later = await site.signed("/signed", BODY, header)
    assert later.status_code == 200 and later.json()["executionId"] in ids


async def test_the_same_body_signed_again_is_a_new_delivery(site: Site) -> None:
    now = int(time.time())
    first = await site.signed("/signed", BODY, sign_request(SECRET, BODY, timestamp=now - 1))
    second = await site.signed("/signed", BODY, sign_request(SECRET, BODY, timestamp=now))
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["executionId"] != second.json()["executionId"]
    assert await site.executions() == 2


def _stale(seconds: int) -> str:
    return sign_request(SECRET, BODY, timestamp=int(time.time()) + seconds)


REFUSED: dict[str, tuple[Callable[[], str | None], str]] = {
    # name: (makes the header when the test runs, words of the reason)
    "absent": (lambda: None, "needs 'Authorization: Bearer <secret>'"),
    "wrong secret": (lambda: sign_request("guess", BODY), "does not match the body"),
    "another body's": (lambda: sign_request(SECRET, b'{"order": {"id": "A-2"}}'), "does not match the body"),
    "expired (10 minutes old)": (lambda: _stale(-600), "from the server's time; at most 300 s"),
    "from the future (10 minutes ahead)": (lambda: _stale(600), "from the server's time; at most 300 s"),
    "malformed": (lambda: "t=soon,v1=abc", "must be 't=<unix seconds>,v1="),
    "no timestamp": (lambda: "v1=" + "0" * 64, "must be 't=<unix seconds>,v1="),
    "the old body-only form": (lambda: sign_body(SECRET, BODY), "no longer accepted"),
    "a non-ASCII signature": (lambda: "t=1,v1=\u00e9", "does not match the body"),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_a_refused_signature_is_a_401_and_creates_nothing(site: Site, case: str) -> None:
    make, reason = REFUSED[case]
    header = make()
    if header is None:
        response = await site.post("/signed", BODY)
    else:
        response = await site.client.post(
            "/signed",
            content=BODY,
            headers=[
                (b"content-type", b"application/json"),
                (SIGNATURE_HEADER.encode(), header.encode("latin-1")),
            ],
        )
    assert response.status_code == 401, response.text
    assert reason in response.json()["error"], response.text
    assert_clean(response)
    assert await site.executions() == 0
    assert await site.fire_statuses("signed") == ["rejected"]
    if header is not None and "v1=" in header and header.isascii():
        v1 = header.rpartition("v1=")[2]
        assert await site.store.get_signature(trigger_id="signed", signature=v1) is None


async def test_a_replay_after_the_window_is_refused_however_genuine(site: Site) -> None:
    header = _stale(-301)  # a captured request, replayed 5 minutes and a second later
    response = await site.signed("/signed", BODY, header)
    assert response.status_code == 401
    assert re.search(r"made 30[12] s from the server's time", response.json()["error"]), response.text
    assert await site.executions() == 0


async def test_a_trigger_that_opts_in_takes_the_old_form_and_says_it_replays(site: Site) -> None:
    old = sign_body(SECRET, BODY)
    first = await site.signed("/legacy", BODY, old)
    replay = await site.signed("/legacy", BODY, old)
    assert (first.status_code, replay.status_code) == (201, 201)  # what opting in means
    assert await site.executions() == 2
    fresh = await site.signed("/legacy", BODY, sign_request(SECRET, BODY))
    assert fresh.status_code == 201 and await site.executions() == 3


async def test_a_bad_body_with_a_good_signature_frees_the_signature(site: Site) -> None:
    await site.service.register(
        "typed", type="http", flow_id="orders", config={"secret": SECRET, "inputSchema": {"type": "array"}}
    )
    header = sign_request(SECRET, BODY)
    refused = await site.signed("/typed", BODY, header)
    assert refused.status_code == 400 and "inputSchema" in refused.json()["error"]
    assert await site.store.get_signature(trigger_id="typed", signature=v1_of(header)) is None
    assert await site.executions() == 0


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
async def test_the_tolerance_is_set_on_the_http_triggers(any_store: Store) -> None:
    async with open_site(any_store, http=HttpTriggers(signature_tolerance=timedelta(seconds=30))) as site:
        late = await site.signed("/signed", BODY, _stale(-60))
        on_time = await site.signed("/signed", BODY, header := _stale(-20))
    assert late.status_code == 401 and "at most 30 s" in late.json()["error"]
    assert on_time.status_code == 201
    seen = await any_store.get_signature(trigger_id="signed", signature=v1_of(header))
    assert seen is not None and seen.expires_at - seen.seen_at < timedelta(seconds=11)


# -- across workers and restarts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_redelivery_to_another_worker_or_after_a_restart_creates_nothing(store_url: str) -> None:
    header = sign_request(SECRET, BODY)
    async with (
        open_store(store_url) as one,
        open_store(store_url) as two,
        open_site(one) as first,
        open_site(two) as second,
    ):
        created = await first.signed("/signed", BODY, header)
        elsewhere = await second.signed("/signed", BODY, header)
    async with open_store(store_url) as restarted, open_site(restarted) as after:
        again = await after.signed("/signed", BODY, header)
        assert await after.executions() == 1
    assert created.status_code == 201
    assert (elsewhere.status_code, again.status_code) == (200, 200)
    assert created.json() == elsewhere.json() == again.json()


# -- GET {base}/{trigger_id} ---------------------------------------------------------------------


async def test_get_describes_a_trigger_behind_its_secret(site: Site) -> None:
    schema = {"type": "object", "required": ["order"]}
    config = {"secret": SECRET, "inputSchema": schema, "name": "Orders", "contextKey": "order"}
    await site.service.register("described", type="http", flow_id="orders", config=config)
    unknown = await site.client.get("/nope")
    anonymous = await site.client.get("/described")
    bearer = await site.client.get("/described", headers={"authorization": f"Bearer {SECRET}"})
    signed = await site.client.get("/described", headers={SIGNATURE_HEADER: sign_request(SECRET, b"")})
    stale = await site.client.get(
        "/described", headers={SIGNATURE_HEADER: sign_request(SECRET, b"", timestamp=int(time.time()) - 600)}
    )
    assert (unknown.status_code, anonymous.status_code, stale.status_code) == (404, 401, 401)
    assert bearer.status_code == signed.status_code == 200
    assert (
        bearer.json()
        == signed.json()
        == {
            "id": "described",
            "type": "http",
            "flowId": "orders",
            "flowVersion": None,
            "enabled": True,
            "inputSchema": schema,
            "name": "Orders",
            "contextKey": "order",
        }
    )
    assert SECRET not in bearer.text and "flowHash" not in bearer.text
    await site.service.disable("described")
    off = await site.client.get("/described", headers={"authorization": f"Bearer {SECRET}"})
    assert off.status_code == 200 and off.json()["enabled"] is False
    open_one = await site.client.get("/open")
    assert open_one.status_code == 200 and open_one.json()["inputSchema"] is None
    assert await site.executions() == 0  # looking starts nothing
    assert await site.fire_statuses("described") == []


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
async def test_the_info_endpoint_can_be_turned_off(any_store: Store) -> None:
    async with open_site(any_store, http=HttpTriggers(info_endpoint=False)) as site:
        response = await site.client.get("/open")
    assert response.status_code == 405


# -- resume tokens over HTTP ---------------------------------------------------------------------


async def _waiting(site: Site) -> Execution:
    execution, _ = await site.engine.create("approve", {})
    waited = await site.engine.run(execution.id)
    assert waited.status is ExecutionStatus.WAITING
    return waited


async def test_a_resume_token_resumes_its_wait_once(site: Site) -> None:
    waiting = await _waiting(site)
    execution_id = waiting.id
    token = site.service.resume_token(execution_id, "s0", visit=waiting.visit)
    forged = await site.client.post(f"/resume/{token[:-3]}xyz", json={"approved": True})
    other_wait = site.service.resume_token(execution_id, "s0", visit=waiting.visit + 1)
    wrong_step = await site.client.post(f"/resume/{other_wait}", json={})
    resumed = await site.client.post(f"/resume/{token}", json={"approved": True})
    again = await site.client.post(f"/resume/{token}", json={"approved": False})
    assert (forged.status_code, wrong_step.status_code, resumed.status_code, again.status_code) == (
        401,
        409,
        200,
        409,
    )
    outcomes = [r.outcome.value for r in await site.store.history(execution_id)]
    assert outcomes == ["waiting", "resumed"]  # one resume, with the first data
    stored = await site.engine.get(execution_id)
    assert stored is not None and stored.context.get("approved") is None  # s0 has no outputKey


async def test_an_expired_token_is_a_410_and_resumes_nothing(site: Site) -> None:
    waiting = await _waiting(site)
    execution_id = waiting.id
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    token = resume_token(
        execution_id,
        "s0",
        visit=waiting.visit,
        secret=TOKEN_SECRET,
        ttl=timedelta(minutes=5),
        now=an_hour_ago,
    )
    response = await site.client.post(f"/resume/{token}", json={})
    assert response.status_code == 410 and "expired at" in response.json()["error"]
    assert [r.outcome.value for r in await site.store.history(execution_id)] == ["waiting"]


async def test_unknown_executions_are_404_and_a_closed_store_a_500(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path / 'r.db'}") as store, open_site(store) as site:
        token = site.service.resume_token("01NOPE", "s0", visit=0)
        missing = await site.client.post(f"/resume/{token}", json={})
        waiting = await _waiting(site)
        live = site.service.resume_token(waiting.id, "s0", visit=waiting.visit)
        await store.close()
        down = await site.client.post(f"/resume/{live}", json={})
        await store.open()
        assert [r.outcome.value for r in await store.history(waiting.id)] == ["waiting"]
    assert missing.status_code == 404
    assert down.status_code == 500 and "retry-after" not in down.headers
    assert_clean(down, str(tmp_path))


async def test_responses_name_no_internals(site: Site) -> None:
    bad: list[httpx.Response] = [
        await site.client.post("/resume/not-a-token", json={}),
        await site.client.get("/nope"),
        await site.post("/signed", BODY),
    ]
    for response in bad:
        assert response.status_code in (401, 404)
        assert_clean(response)


@pytest.mark.parametrize("store_url", ["memory", "sqlite"], indirect=True)
async def test_a_token_of_one_visit_cannot_resume_the_next_visit_of_the_same_step(any_store: Store) -> None:
    async with open_site(any_store) as site:
        site.engine.flows.register(LOOP)
        execution, _ = await site.engine.create("loop", {})
        first = await site.engine.run(execution.id)
        token = site.service.resume_token(first.id, "ask", visit=first.visit)
        assert (await site.client.post(f"/resume/{token}", json={"round": 1})).status_code == 200
        second = await site.engine.run(execution.id)  # back at "ask": a new visit of the same step
        assert second.status is ExecutionStatus.WAITING and second.current_step_id == "ask"
        assert second.visit != first.visit
        stale = await site.client.post(f"/resume/{token}", json={"round": 2})
        fresh = site.service.resume_token(second.id, "ask", visit=second.visit)
        resumed = await site.client.post(f"/resume/{fresh}", json={"round": 2})
    assert stale.status_code == 409 and f"not {first.visit})" in stale.json()["error"]
    assert resumed.status_code == 200
    outcomes = [r.outcome.value for r in await any_store.history(execution.id)]
    assert outcomes.count("resumed") == 2  # one per visit, each by its own token


LOOP = Flow.from_dict(
    {
        "id": "loop",
        "initialStepId": "ask",
        "steps": {
            "ask": {"type": "wait", "outputKey": "answer", "transitions": {"onSuccess": "again"}},
            "again": {"type": "echo", "transitions": {"onSuccess": "ask"}},
        },
    }
)


@pytest.mark.parametrize("store_url", ["memory", "sqlite"], indirect=True)
async def test_resume_data_against_the_steps_resume_schema_is_a_400_and_resumes_nothing(
    any_store: Store,
) -> None:
    schema = {"type": "object", "required": ["approved"], "properties": {"approved": {"type": "boolean"}}}
    gated = Flow.from_dict(
        {
            "id": "gated",
            "initialStepId": "ask",
            "steps": {"ask": {"type": "wait", "resumeSchema": schema, "transitions": {"onSuccess": None}}},
        }
    )
    async with open_site(any_store) as site:
        site.engine.flows.register(gated)
        execution, _ = await site.engine.create("gated", {})
        waiting = await site.engine.run(execution.id)
        token = site.service.resume_token(waiting.id, "ask", visit=waiting.visit)
        refused = await site.client.post(f"/resume/{token}", json={"approved": "yes"})
        accepted = await site.client.post(f"/resume/{token}", json={"approved": True})
    assert refused.status_code == 400 and "resumeSchema" in refused.json()["error"]
    assert refused.json()["errors"] == [{"path": "$.approved", "message": "'yes' is not of type 'boolean'"}]
    assert accepted.status_code == 200
    assert [r.outcome.value for r in await any_store.history(execution.id)] == ["waiting", "resumed"]
