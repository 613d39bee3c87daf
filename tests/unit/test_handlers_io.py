"""Built-in I/O handlers against a real HTTP server on 127.0.0.1 (no mock transports)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from flowmonkey import Execution, ExecutionStatus, StepStatus, llm_handler
from flowmonkey.cliopts import environment_handlers
from flowmonkey.handlers.webhook import signature
from flowmonkey.testing import TestHarness

from .conftest import FakeClock


class Server:
    """What the test server saw, and knobs for what it answers."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.flaky_failures = 0
        self.release = threading.Event()
        self.url = ""


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer
    state: Server

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlparse(self.path)
        self.state.requests.append(
            {"method": self.command, "path": url.path, "headers": dict(self.headers), "body": raw}
        )
        route = url.path.strip("/").split("/")
        if route[0] == "json":
            self._send(200, {"query": parse_qs(url.query), "method": self.command})
        elif route[0] == "echo":
            self._send(
                200, {"received": json.loads(raw) if raw else None, "auth": self.headers.get("x-token")}
            )
        elif route[0] == "text":
            self._send(200, "plain words", content_type="text/plain")
        elif route[0] == "status":
            self._send(int(route[1]), {"error": "nope" * 200})
        elif route[0] == "flaky":
            self.state.flaky_failures -= 1
            self._send(503 if self.state.flaky_failures >= 0 else 200, {"ok": self.state.flaky_failures < 0})
        elif route[0] == "slow":
            self.state.release.wait(5)
            self._send(200, {})
        elif url.path == "/v1/chat/completions":
            self._chat(json.loads(raw))
        else:
            self._send(404, {"error": "no route"})

    def _chat(self, body: dict[str, Any]) -> None:
        if self.headers.get("authorization") != "Bearer good-key":
            self._send(401, {"error": {"message": "bad key"}})
            return
        special = {"rate-limited": (429, {"error": "slow down"}), "broken": (500, {"error": "oops"})}
        if body["model"] in special:
            self._send(*special[body["model"]])
            return
        if body["model"] == "weird":
            self._send(200, {"choices": []})
            return
        content = " | ".join(f"{m['role']}: {m['content']}" for m in body["messages"])
        self._send(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
            },
        )

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = (json.dumps(body) if content_type == "application/json" else str(body)).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout tests)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    handler = type("BoundHandler", (Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def one_step(step_type: str, config: dict[str, Any], **step: Any) -> dict[str, Any]:
    return {
        "id": "f",
        "initialStepId": "s",
        "steps": {"s": {"type": step_type, "config": config, "outputKey": "out", **step}},
    }


async def run(flow: dict[str, Any], context: dict[str, Any] | None = None) -> tuple[TestHarness, Execution]:
    harness = TestHarness(flows=[flow])
    return harness, await harness.run("f", context or {})


# -- http -------------------------------------------------------------------------------


async def test_http_renders_templates_and_parses_a_json_answer(server: Server) -> None:
    config = {"url": server.url + "/json", "query": {"id": "${order.id}", "n": 3}}
    _, done = await run(one_step("http", config), {"order": {"id": "o-7"}})

    assert done.status is ExecutionStatus.COMPLETED
    assert done.context["out"]["status"] == 200
    assert done.context["out"]["body"] == {"query": {"id": ["o-7"], "n": ["3"]}, "method": "GET"}
    assert done.context["out"]["headers"]["content-type"] == "application/json"


async def test_http_posts_json_with_templated_headers(server: Server) -> None:
    config = {
        "method": "POST",
        "url": server.url + "/echo",
        "headers": {"x-token": "t-${user.id}"},
        "json": {"user": "${user}", "note": "hi ${user.name}"},
    }
    _, done = await run(one_step("http", config), {"user": {"id": 1, "name": "Ann"}})

    body = done.context["out"]["body"]
    assert body == {"received": {"user": {"id": 1, "name": "Ann"}, "note": "hi Ann"}, "auth": "t-1"}


async def test_http_keeps_a_text_answer_as_text(server: Server) -> None:
    _, done = await run(one_step("http", {"url": server.url + "/text"}))

    assert done.context["out"]["body"] == "plain words"


async def test_a_non_2xx_answer_is_http_error_with_status_and_an_excerpt(server: Server) -> None:
    harness, done = await run(one_step("http", {"url": server.url + "/status/404"}))

    harness.assert_failed(done, "HTTP_ERROR")
    assert done.error is not None
    assert done.error.details["status"] == 404
    assert done.error.details["body"].startswith('{"error": "nopenope')
    assert len(done.error.details["body"]) == 500


async def test_http_errors_are_retried_by_the_policy(server: Server) -> None:
    server.flaky_failures = 2
    retry = {"maxAttempts": 3, "backoff": "1s", "retryOn": ["HTTP_ERROR"]}
    harness, done = await run(one_step("http", {"url": server.url + "/flaky"}, retry=retry))

    harness.assert_completed(done)
    history = await harness.history(done)
    assert [r.outcome for r in history] == [StepStatus.RETRY, StepStatus.RETRY, StepStatus.COMPLETED]
    assert len([r for r in server.requests if r["path"] == "/flaky"]) == 3


async def test_network_errors_and_timeouts_are_http_errors(server: Server) -> None:
    harness, refused = await run(one_step("http", {"url": "http://127.0.0.1:1/nothing"}))
    _, slow = await run(one_step("http", {"url": server.url + "/slow", "timeout": "100ms"}))

    harness.assert_failed(refused, "HTTP_ERROR")
    harness.assert_failed(slow, "HTTP_ERROR")
    assert refused.error is not None and slow.error is not None
    assert refused.error.details["kind"] == "network"
    assert slow.error.details == {"status": None, "kind": "timeout", "exception": "ReadTimeout"}


def node_order_flow(url: str) -> dict[str, Any]:
    """The Node README's order flow, as written there: the http step's request is in a
    template input, and its config is empty."""
    return {
        "id": "process-order",
        "version": "1.0.0",
        "initialStepId": "charge-payment",
        "steps": {
            "charge-payment": {
                "id": "charge-payment",
                "type": "http",
                "config": {},
                "input": {
                    "type": "template",
                    "template": {"url": url, "method": "POST", "body": {"amount": "${validated.total}"}},
                },
                "outputKey": "payment",
                "transitions": {"onSuccess": None},
            }
        },
    }


async def test_without_a_url_in_the_config_http_sends_the_request_its_input_makes(server: Server) -> None:
    harness = TestHarness(flows=[node_order_flow(server.url + "/echo")])
    done = await harness.run("process-order", {"validated": {"total": 42}})

    harness.assert_completed(done)
    assert done.context["payment"]["body"] == {"received": {"amount": 42}, "auth": None}
    [request] = server.requests
    assert request["method"] == "POST" and request["headers"]["Content-Type"] == "application/json"


async def test_the_config_url_wins_and_the_config_gives_defaults_to_an_input_request(server: Server) -> None:
    configured = one_step(
        "http",
        {"url": server.url + "/json"},
        input={"type": "static", "value": {"url": server.url + "/echo", "method": "POST"}},
    )
    _, done = await run(configured)
    assert done.context["out"]["body"]["method"] == "GET"  # the config's request; the input unused

    defaults = one_step(
        "http",
        {"headers": {"x-token": "from-config"}, "timeout": "5s"},
        input={"type": "template", "template": {"url": server.url + "/echo", "method": "POST", "json": [1]}},
    )
    _, done = await run(defaults)
    assert done.context["out"]["body"] == {"received": [1], "auth": "from-config"}


async def test_templates_in_an_input_request_are_rendered_once(server: Server) -> None:
    harness = TestHarness(flows=[node_order_flow(server.url + "/echo")])
    done = await harness.run("process-order", {"validated": {"total": "${secret}"}, "secret": "leaked"})
    assert done.context["payment"]["body"]["received"] == {"amount": "${secret}"}


@pytest.mark.parametrize(
    ("step_input", "says"),
    [
        (None, "the step's input is missing, not a request"),
        ({"type": "static", "value": {"method": "POST"}}, '$: missing required key "url"'),
        ({"type": "static", "value": {"url": "http://x", "methd": "POST"}}, '$.methd: unknown key "methd"'),
        ({"type": "static", "value": {"url": "http://x", "method": "FETCH"}}, "$.method: expected one of"),
        ({"type": "static", "value": [1, 2]}, "the step's input is a list, not a request"),
    ],
)
async def test_an_input_that_makes_no_request_is_an_input_error(step_input: Any, says: str) -> None:
    flow = one_step(
        "http", {}, **({"input": step_input} if step_input else {"input": {"type": "key", "key": "nothing"}})
    )
    harness, done = await run(flow, {"nothing": None})
    harness.assert_failed(done, "INPUT_ERROR")
    error = done.error
    assert error is not None and says in error.message, error
    assert "set config.url" in error.message


# -- webhook ----------------------------------------------------------------------------


async def test_webhook_posts_the_event_signed_with_an_idempotency_key(server: Server) -> None:
    config = {
        "url": server.url + "/echo",
        "event": "order.paid",
        "data": {"total": "${total}"},
        "secret": "s3",
    }
    _, done = await run(one_step("webhook", config), {"total": 12.5})

    assert done.status is ExecutionStatus.COMPLETED
    [request] = server.requests
    body = json.loads(request["body"])
    assert body == {"event": "order.paid", "execution_id": done.id, "flow_id": "f", "data": {"total": 12.5}}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-flowmonkey-signature"] == signature("s3", request["body"])
    assert headers["idempotency-key"] == f"{done.id}:s:1"


async def test_webhook_fails_on_a_non_2xx_answer(server: Server) -> None:
    harness, done = await run(one_step("webhook", {"url": server.url + "/status/500"}))

    harness.assert_failed(done, "HTTP_ERROR")


# -- llm --------------------------------------------------------------------------------


def llm_step(server: Server, **config: Any) -> dict[str, Any]:
    base = {"baseUrl": server.url + "/v1", "apiKey": "good-key", "model": "m-1"}
    return one_step("llm", {**base, **config})


async def test_llm_returns_text_usage_model_and_finish_reason(server: Server) -> None:
    flow = llm_step(server, system="be brief", prompt="Summarise ${doc.title}")
    _, done = await run(flow, {"doc": {"title": "the report"}})

    assert done.context["out"] == {
        "text": "system: be brief | user: Summarise the report",
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        "model": "m-1",
        "finish_reason": "stop",
    }


async def test_llm_takes_the_endpoint_and_key_the_commands_read_from_the_environment(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "good-key")
    messages = [{"role": "user", "content": "hi ${name}"}]
    flow = one_step("llm", {"model": "m-2", "messages": messages})
    harness = TestHarness(handlers=environment_handlers(), flows=[flow])  # what the worker registers

    done = await harness.run("f", {"name": "Bo"})

    assert done.context["out"]["text"] == "user: hi Bo"


async def test_the_built_in_llm_reads_no_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "good-key")
    config = {"model": "m-2", "prompt": "hi", "baseUrl": server.url + "/v1"}

    harness, done = await run(one_step("llm", config))
    harness.assert_failed(done, "LLM_AUTH")  # no key: the environment is the edges' business
    keyed = TestHarness(handlers=[llm_handler(api_key="good-key")], flows=[one_step("llm", config)])
    assert (await keyed.run("f", {})).context["out"]["text"] == "user: hi"


@pytest.mark.parametrize(
    ("config", "code"),
    [
        ({"apiKey": "bad-key"}, "LLM_AUTH"),
        ({"model": "rate-limited"}, "LLM_RATE_LIMITED"),
        ({"model": "broken"}, "LLM_ERROR"),
        ({"model": "weird"}, "LLM_BAD_RESPONSE"),
        ({"baseUrl": "http://127.0.0.1:1/v1"}, "LLM_ERROR"),
    ],
)
async def test_llm_errors_have_stable_codes(server: Server, config: dict[str, Any], code: str) -> None:
    harness, done = await run(llm_step(server, prompt="hi", **config))

    harness.assert_failed(done, code)


# -- delay and approval -----------------------------------------------------------------


async def test_delay_waits_durably_and_a_timer_wake_completes_it(clock: FakeClock) -> None:
    harness = TestHarness(flows=[one_step("delay", {"duration": "5m"})], clock=clock)
    created, _ = await harness.engine.create("f")

    waiting = await harness.engine.run(created.id)
    assert waiting.status is ExecutionStatus.WAITING
    assert waiting.wake_at == waiting.created_at + timedelta(minutes=5)

    await harness.engine.wake(created.id)  # woken early: it must wait again for the same time
    early = await harness.engine.run(created.id)
    assert early.status is ExecutionStatus.WAITING
    assert early.wake_at == waiting.wake_at

    done = await harness.engine.run(created.id, simulate_time=True)
    harness.assert_completed(done)
    assert done.context["out"] == {"until": waiting.wake_at.isoformat()}


async def test_delay_until_a_past_time_passes_at_once() -> None:
    _, done = await run(one_step("delay", {"until": "${at}"}), {"at": "2001-01-01T00:00:00Z"})

    assert done.status is ExecutionStatus.COMPLETED
    assert done.step_count == 1


async def test_approval_expires_after_its_deadline_but_not_before(clock: FakeClock) -> None:
    harness = TestHarness(flows=[one_step("approval", {"message": "ok?", "deadline": "1h"})], clock=clock)
    created, _ = await harness.engine.create("f")
    waiting = await harness.engine.run(created.id)
    assert waiting.wake_at == waiting.created_at + timedelta(hours=1)

    await harness.engine.wake(created.id)
    still = await harness.engine.run(created.id)
    assert still.status is ExecutionStatus.WAITING

    expired = await harness.engine.run(created.id, simulate_time=True)
    harness.assert_failed(expired, "WAIT_EXPIRED")


async def test_approval_resume_data_becomes_the_output() -> None:
    harness = TestHarness(flows=[one_step("approval", {"message": "ok?", "assignee": "ops"})])
    created, _ = await harness.engine.create("f")
    waiting = await harness.engine.run(created.id, simulate_time=True)
    assert waiting.status is ExecutionStatus.WAITING
    assert waiting.wake_at is None
    assert waiting.wait_reason == "approval: ok? (assignee ops)"

    done = await harness.resume(created.id, {"approved": True})

    assert done.context["out"] == {"approved": True}
