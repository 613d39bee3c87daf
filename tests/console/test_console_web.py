"""``flowmonkey-console --web``: the console in a real headless browser, behind its token.

Debian's ``chromium`` and ``chromium-driver`` drive the page with Selenium. The terminal is
drawn on a canvas, so what the page shows is read where it arrives: every websocket frame
the page receives is decoded in the page (a script added before the page's own) and the
screen's text searched. ``FLOWMONKEY_WEB_SCREENSHOT=path.png`` keeps a screenshot.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowmonkey import Engine, open_store
from tests.conftest import IN_CI
from tests.console.support import HANDLERS, ORDER, REPORT

pytest.importorskip("textual_serve", reason="the web extra is not installed: pip install -e '.[web]'")
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (the dev extra has it)"
)

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
STARTUP = 90.0  # seconds: the machine is shared, textual-serve and a console start in turn

# What the page's terminal is given: textual-serve sends the console's output as binary
# frames of the bytes written to the terminal (escape sequences and text), decoded here.
RECORD_FRAMES = """
window.__screen = "";
const Native = window.WebSocket;
const decoder = new TextDecoder();
window.WebSocket = function (...args) {
  const socket = new Native(...args);
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) window.__screen += decoder.decode(event.data, {stream: true});
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
"""
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[A-Za-z~]|\x1b[()][A-Z0-9]|\x1b[>=]")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        message = "no chromium/chromedriver: apt-get install chromium chromium-driver"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires them (.ci/run installs them)")
        pytest.skip(message)
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_FRAMES})
    try:
        yield driver
    finally:
        driver.quit()


async def seed(url: str) -> None:
    """Over the last hour: orders (most approved and done, some waiting), reports that fail."""
    now = datetime.now(UTC)
    moment = [now]
    async with open_store(url) as store:
        engine = Engine(store, HANDLERS, [ORDER, REPORT], clock=lambda: moment[0])
        for n in range(24):
            moment[0] = now - timedelta(minutes=58 - 2.4 * n + (n % 3))
            execution, _ = await engine.create("process-order", {"order": {"id": n}})
            await engine.run(execution.id)
            if n % 6:
                moment[0] += timedelta(seconds=20 + 7 * (n % 5))
                await engine.resume(execution.id, {"approved": True})
                await engine.run(execution.id)
            if n % 8 == 0:
                failing, _ = await engine.create("daily-report", {})
                await engine.run(failing.id)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A ``--web`` console on a seeded SQLite store: (its base URL, the token)."""
    url = f"sqlite:///{tmp_path / 'web.db'}"
    asyncio.run(seed(url))
    (tmp_path / "flows").mkdir()
    for flow in (ORDER, REPORT):  # the tabs read them without handler code
        (tmp_path / "flows" / f"{flow.id}.json").write_text(json.dumps(flow.to_dict()))
    port = free_port()
    argv = [sys.executable, "-m", "flowmonkey_console", "--web", f"127.0.0.1:{port}", "--store", url]
    argv += ["--flows", str(tmp_path / "flows"), "--no-worker"]
    out = tmp_path / "web.out"
    with out.open("w") as sink:
        server = subprocess.Popen(argv, cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP
        while not (found := re.search(r"(http://\S+)/\?token=(\S+)", out.read_text())):
            assert server.poll() is None, f"the server ended: {out.read_text()}"
            assert time.monotonic() < deadline, f"no URL after {STARTUP}s: {out.read_text()}"
            time.sleep(0.2)
        yield found[1], found[2]
    finally:
        server.terminate()
        server.wait(timeout=30)


def screen_text(driver: Any) -> str:
    return ANSI.sub("", str(driver.execute_script("return window.__screen")))


def wait_until(check: Any, what: str, timeout: float = STARTUP) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.mark.timeout(400)
def test_the_browser_shows_the_flows_view_with_the_token(browser: Any, served: tuple[str, str]) -> None:
    base, token = served
    browser.get(f"{base}/?token={token}")
    wait_until(lambda: "process-order" in screen_text(browser), "the console's first screen")
    browser.execute_script("window.__screen = ''")
    browser.find_element("css selector", ".xterm-helper-textarea").send_keys("1")  # the terminal's input
    wait_until(lambda: "STARTS/MIN" in screen_text(browser), "the Flows view")
    wait_until(lambda: "daily-report" in screen_text(browser), "its rows")
    text = screen_text(browser)
    assert "READONLY" in text and "worker: off" in text  # a tab only attaches, read-only
    assert "✔20 ◷4" in text and "✘3" in text  # process-order's and daily-report's executions
    assert "100%" in text and " 0% " in text  # their success rates over the last hour
    assert "-closed" not in (browser.find_element("css selector", "body").get_attribute("class") or "")
    keep = os.environ.get("FLOWMONKEY_WEB_SCREENSHOT")
    if keep:
        time.sleep(1.0)  # the last frame drawn
        browser.save_screenshot(keep)


@pytest.mark.timeout(400)
def test_without_the_token_the_page_and_the_websocket_are_refused(
    browser: Any, served: tuple[str, str]
) -> None:
    base, token = served
    browser.get(base)
    assert "refused" in browser.find_element("css selector", "body").text
    browser.get(f"{base}/?token=not-{token}")
    assert "refused" in browser.find_element("css selector", "body").text
    assert asyncio.run(handshake(f"{base}/ws")) == 403
    assert asyncio.run(handshake(f"{base}/ws?token=wrong")) == 403
    cookie = {"Cookie": f"flowmonkey_console_token={token}"}
    assert asyncio.run(handshake(f"{base}/ws", {**cookie, "Origin": "http://evil.example"})) == 403
    assert asyncio.run(handshake(f"{base}/ws", {**cookie, "Origin": base})) == 101


async def handshake(url: str, headers: dict[str, str] | None = None) -> int:
    """The status of a websocket handshake (101: accepted)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers or {}) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
