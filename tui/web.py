"""``flowmonkey-console --web HOST:PORT``: the same console in a browser, behind a token.

textual-serve (the ``web`` extra) answers the page and, per browser tab, starts one
console process wired to the tab's websocket. Those processes only attach to the store
(``--attach``: no runtime, scheduler, flow sync or handler code) and are read-only
(``--readonly``, the store opened read-only at the driver) unless ``--web-allow-actions``:
ten tabs are ten readers, not ten engines. The serving process itself runs what a
terminal console would (the runtime, the flow files, the triggers), unless ``--no-worker``
or ``--readonly``.

A random token, printed at start, guards everything the server answers: the page, its
files and the websocket. It comes once in the URL (``/?token=...``); the answer sets it as
a cookie (HttpOnly, SameSite=Strict) that the page's own requests and websocket carry. A
websocket from another origin is refused even with the cookie.
"""

from __future__ import annotations

import hmac
import os
import secrets
import shlex
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flowmonkey import FlowMonkeyError, Handler

from .backend import Backend
from .options import STORE_ENV, ConsoleOptions

COOKIE = "flowmonkey_console_token"
INSTALL_HINT = "flowmonkey-console --web needs textual-serve: pip install 'flowmonkey[web]'"
REFUSED = "refused: open the console with the URL flowmonkey-console --web printed (it holds the token)\n"

Handle = Callable[[Any], Awaitable[Any]]


def session_command(options: ConsoleOptions) -> str:
    """The console process textual-serve starts per tab: attached, read-only unless allowed."""
    argv = [sys.executable, "-m", "flowmonkey_console", "--attach", "--flows", str(options.flows_dir)]
    if options.readonly or not options.web_allow_actions:
        argv.append("--readonly")
    return shlex.join(argv)


def token_guard(token: str) -> Any:
    """An aiohttp middleware: 403 unless the request holds ``token`` (query or cookie),
    and for the websocket, comes from the page's own origin."""
    from aiohttp import web

    @web.middleware
    async def guard(request: web.Request, handler: Handle) -> web.StreamResponse:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        if not hmac.compare_digest(given.encode(), token.encode()) or not _same_origin(request):
            return web.Response(status=403, text=REFUSED)
        response: web.StreamResponse = await handler(request)
        if "token" in request.query and not response.prepared:
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    return guard


def _same_origin(request: Any) -> bool:
    """A browser names the page's origin on a websocket handshake: it must be this server."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def serve_web(options: ConsoleOptions, *, handlers: Iterable[Handler] = ()) -> int:
    """Serve until interrupted; returns the exit code."""
    try:
        from textual_serve.server import Server
    except ImportError:
        print(f"flowmonkey-console: {INSTALL_HINT}", file=sys.stderr)
        return 2
    assert options.web is not None
    host, port = options.web
    token = secrets.token_urlsafe(24)
    os.environ[STORE_ENV] = options.store_url
    hosted = HostedBackend(options, handlers)

    class ConsoleServer(Server):
        async def _make_app(self) -> Any:
            app = await super()._make_app()
            app.middlewares.append(token_guard(token))
            app.on_startup.insert(0, hosted.start)  # before the lines that say what runs
            app.on_cleanup.append(hosted.stop)
            return app

        async def on_startup(self, app: Any) -> None:
            mode = "actions allowed" if options.web_allow_actions else "read-only"
            print(
                f"flowmonkey-console: the console is at {self.public_url}/?token={token} ({mode})", flush=True
            )
            print(f"flowmonkey-console: here: {hosted.doing()}; Ctrl+C stops", flush=True)

    ConsoleServer(session_command(options), host=host, port=port, title="FlowMonkey console").serve()
    return hosted.exit_code


class HostedBackend:
    """What the serving process runs itself: a terminal console's services, without a screen."""

    def __init__(self, options: ConsoleOptions, handlers: Iterable[Handler]) -> None:
        self.options = options
        self.handlers = list(handlers)
        self.backend: Backend | None = None
        self.exit_code = 0

    def doing(self) -> str:
        if self.backend is None:
            return "nothing runs (--no-worker or --readonly: a worker must run the executions)"
        return ", ".join(f"{name} {state}" for name, state in self.backend.features.items()) or "nothing"

    async def start(self, app: Any) -> None:
        if not self.options.worker:
            return
        try:
            self.backend = await Backend.from_options(self.options, handlers=self.handlers)
            await self.backend.start()
        except (FlowMonkeyError, OSError) as exc:
            print(f"flowmonkey-console: cannot start: {exc}", file=sys.stderr, flush=True)
            self.exit_code = 1
            raise SystemExit(1) from None

    async def stop(self, app: Any) -> None:
        if self.backend is not None:
            await self.backend.stop()
