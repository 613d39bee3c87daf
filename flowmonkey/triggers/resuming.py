"""Issuing resume tokens and resuming the executions they name, at the wait they name.

The secret is given, never looked up: the process's edge (``flowmonkey worker``, the
console) reads it from ``FLOWMONKEY_SECRET`` (and older ones, still accepted, from
``FLOWMONKEY_SECRET_FALLBACKS``); without one, a random secret makes tokens valid in
this process only.

Checking a token and resuming are one compare-and-set: the engine's resume commits only
if the execution is still at the visit the token names (for a token of an old form,
which names no visit, the visit found at its step when the token was checked), so a
token can never resume a wait other than its own, however resumes and loops interleave.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from flowmonkey.errors import ExecutionNotFoundError, NotWaitingError
from flowmonkey.model import Execution
from flowmonkey.triggers.tokens import (
    DEFAULT_RESUME_TOKEN_TTL,
    ResumeTarget,
    Secrets,
    check_ttl,
    secret_keys,
    sign_resume_token,
    verify_resume_token,
)

log = logging.getLogger("flowmonkey.triggers")


class ResumeAtVisit(Protocol):
    """:meth:`Engine.resume`: resume a waiting execution with data, only at ``visit``
    (``None``: whatever visit waits), as one compare-and-set."""

    def __call__(
        self, execution_id: str, data: Any = None, *, visit: int | None = None
    ) -> Awaitable[Execution]: ...


class ResumeTokens:
    """Signs tokens with the first secret, and resumes what a genuine token names.

    Args:
        get: reads an execution (``engine.get``).
        resume: resumes a waiting execution at a visit (``engine.resume``).
        clock: the current time (tokens expire).
        secret: the signing secret, or several (the first signs, any verifies); ``None``:
            a random one, for this process only.
        ttl: how long a token works unless :meth:`issue` is told otherwise.
        legacy_until: tokens of the old forms (no expiry, or no step) are refused from
            then on; ``None``: accepted as issued.
    """

    def __init__(
        self,
        *,
        get: Callable[[str], Awaitable[Execution | None]],
        resume: ResumeAtVisit,
        clock: Callable[[], datetime],
        secret: Secrets | None = None,
        ttl: timedelta = DEFAULT_RESUME_TOKEN_TTL,
        legacy_until: datetime | None = None,
    ) -> None:
        self._get = get
        self._resume = resume
        self._clock = clock
        self._keys = _keys(secret)
        self.ttl = check_ttl(ttl)
        self.legacy_until = legacy_until

    def issue(self, execution_id: str, step_id: str, *, visit: int, ttl: timedelta | None = None) -> str:
        """A token that resumes this execution at the wait of ``step_id`` at ``visit``,
        valid ``ttl`` (default: :attr:`ttl`)."""
        expires_at = self._clock() + (self.ttl if ttl is None else check_ttl(ttl))
        return sign_resume_token(self._keys[0], execution_id, step_id, visit=visit, expires_at=expires_at)

    async def resume(self, token: str, data: Any = None) -> Execution:
        """Resume the execution a genuine token names, at the wait it names.

        Raises:
            ExpiredTokenError: the token is genuine but expired (or of an old form, past
                the cut-off).
            InvalidTokenError: the token is forged or malformed.
            ExecutionNotFoundError: no such execution.
            NotWaitingError: the execution is not (or no longer) at the token's wait.
        """
        target = verify_resume_token(self._keys, token, now=self._clock(), legacy_until=self.legacy_until)
        visit = target.visit if target.visit is not None else await self._visit_at_step(target)
        return await self._resume(target.execution_id, data, visit=visit)

    async def _visit_at_step(self, target: ResumeTarget) -> int:
        """For a token of an old form (no visit): the visit now waiting at its step, which
        the resume then insists on (so the check and the resume are one compare-and-set)."""
        execution = await self._get(target.execution_id)
        if execution is None:
            raise ExecutionNotFoundError(f"no execution {target.execution_id}")
        if target.step_id is not None and execution.current_step_id != target.step_id:
            raise NotWaitingError(
                f"execution {execution.id} is at step {execution.current_step_id!r}, "
                f"not {target.step_id!r} that this token resumes"
            )
        return execution.visit


def _keys(secret: Secrets | None) -> tuple[bytes, ...]:
    keys = secret_keys(secret)
    if not keys:
        log.debug("no resume token secret given: tokens are valid in this process only")
        return (secrets.token_bytes(32),)
    return keys
