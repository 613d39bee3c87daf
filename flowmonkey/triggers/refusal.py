"""A refused webhook request, and the only response bodies a failure may have.

A response body says what the sender can fix; it never carries an exception's text from
below the triggers (a driver's message names hosts, databases and files), a file path or
a traceback. A failure of the store answers 503 with ``Retry-After`` only when the store
says it is transient (:attr:`StoreError.transient`: the connection is lost or refused,
the server is shutting down; a retry can succeed); any other is a 500 whose body says
nothing but that.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import JSONResponse

from flowmonkey.errors import ConflictError, StoreError

log = logging.getLogger("flowmonkey.triggers")

RETRY_AFTER_SECONDS = 5


class Refusal(Exception):
    """A request refused before anything was stored: its HTTP status, a message for the
    sender, and (for a bad body) the problems by JSON path."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        headers = {"WWW-Authenticate": 'Bearer realm="flowmonkey"'} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


def store_failure(exc: StoreError, doing: str) -> JSONResponse:
    """The answer to a store failure while ``doing`` something: 409 for a lost race, 503
    with ``Retry-After`` for a transient outage, else 500; the details go to the log only."""
    if isinstance(exc, ConflictError):
        return error_response(409, f"{doing} conflicted with a concurrent change; send it again", exc.code)
    if exc.transient:
        log.warning("webhook: %s failed, the store is unavailable: %s", doing, exc)
        message = "the store is unavailable; try again later"
        return error_response(503, message, exc.code, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.error("webhook: %s failed: %s", doing, exc, exc_info=exc)
    return error_response(500, f"{doing} failed on the server", exc.code)


def error_response(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """``{"error": message, "code": code}`` with ``status``."""
    body: dict[str, Any] = {"error": message}
    if code is not None:
        body["code"] = str(code)
    return JSONResponse(body, status_code=status, headers=headers)
