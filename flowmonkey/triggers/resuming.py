"""Issuing resume tokens and resuming the executions they name.

The secret is given, never looked up: the process's edge (``flowmonkey worker``, the
console) reads it from ``FLOWMONKEY_SECRET``; without one, a random secret makes tokens
valid in this process only.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from flowmonkey.errors import NotWaitingError
from flowmonkey.model import Execution
from flowmonkey.triggers.tokens import DEFAULT_RESUME_TOKEN_TTL, sign_resume_token, verify_resume_token

log = logging.getLogger("flowmonkey.triggers")


class ResumeTokens:
    """Signs tokens with one secret, and resumes what a genuine token names.

    Args:
        get: reads an execution (``engine.get``).
        resume: resumes a waiting execution with data (``engine.resume``).
        clock: the current time (tokens expire).
        secret: the signing secret (``None``: a random one, for this process only).
        ttl: how long a token works by default (``None``: for ever).
    """

    def __init__(
        self,
        *,
        get: Callable[[str], Awaitable[Execution | None]],
        resume: Callable[[str, Any], Awaitable[Execution]],
        clock: Callable[[], datetime],
        secret: str | bytes | None = None,
        ttl: timedelta | None = DEFAULT_RESUME_TOKEN_TTL,
    ) -> None:
        self._get = get
        self._resume = resume
        self._clock = clock
        self._secret = _secret_bytes(secret)
        self.ttl = ttl

    def issue(self, execution_id: str, step_id: str | None = None, *, ttl: timedelta | None = None) -> str:
        """A token that resumes this execution (at ``step_id``), valid ``ttl`` (default: :attr:`ttl`)."""
        ttl = self.ttl if ttl is None else ttl
        expires_at = self._clock() + ttl if ttl is not None else None
        return sign_resume_token(self._secret, execution_id, step_id, expires_at=expires_at)

    async def resume(self, token: str, data: Any = None) -> Execution:
        """Resume the execution a genuine token names.

        Raises:
            ExpiredTokenError: the token is genuine but expired.
            InvalidTokenError: the token is forged or malformed.
            ExecutionNotFoundError, NotWaitingError: as :meth:`Engine.resume`.
        """
        target = verify_resume_token(self._secret, token, now=self._clock())
        execution = await self._get(target.execution_id)
        if execution is not None and target.step_id and execution.current_step_id != target.step_id:
            raise NotWaitingError(
                f"execution {execution.id} is at step {execution.current_step_id!r}, "
                f"not {target.step_id!r} that this token resumes"
            )
        return await self._resume(target.execution_id, data)


def _secret_bytes(secret: str | bytes | None) -> bytes:
    if not secret:
        log.debug("no resume token secret given: tokens are valid in this process only")
        return secrets.token_bytes(32)
    return secret.encode() if isinstance(secret, str) else secret
