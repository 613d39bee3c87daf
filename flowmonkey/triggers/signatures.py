"""Who may call a webhook with a ``secret``: a bearer of it, or a fresh signature made with it.

A signed request carries::

    X-FlowMonkey-Signature: t=1767225600,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

``t`` is the Unix time (seconds) of signing and ``v1`` the hex HMAC-SHA256, keyed with the
trigger's secret, of the bytes ``"<t>." + body``. The request is accepted while ``t`` is
within the tolerance (default 5 minutes) of the server's clock, either way; a sender that
rotates its secret may send several ``v1=`` entries and any one matching is enough. The
timestamp is signed, so a captured request cannot be re-dated, and one older than the
tolerance is refused: a replay works at most for that long, and inside it the seen-set
(:mod:`flowmonkey.triggers.firing`) turns it into an idempotent repeat.

The form before timestamps, ``sha256=<hex HMAC of the body>``, replays for ever; it is
refused unless the trigger opts in with ``legacySignature: true`` while its senders move.
``Authorization: Bearer <secret>`` stays accepted: it sends the secret itself, so it is
only as safe as the TLS that carries it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flowmonkey.triggers.refusal import Refusal

SIGNATURE_HEADER = "X-FlowMonkey-Signature"
DEFAULT_SIGNATURE_TOLERANCE = timedelta(minutes=5)
"""How far a signature's ``t`` may be from the server's clock unless ``HttpTriggers`` says otherwise."""

_FORMAT = "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.' + body>"
_MAX_HEADER = 1024  # room for a timestamp and a few signatures; anything longer is not one


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """A fresh timestamped signature that matched: its ``v1`` hex, and until when it is
    accepted (its timestamp plus the tolerance), which is how long a redelivery of it
    must be recognised."""

    value: str
    valid_until: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """How a request proved it may call: by ``bearer`` secret, by a fresh ``signature``, by
    a legacy body signature, or (no secret) not at all."""

    bearer: bool = False
    signature: Signature | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignaturePolicy:
    """What a trigger accepts: its secret, the tolerance, and whether the old form counts."""

    secret: str
    tolerance: timedelta = DEFAULT_SIGNATURE_TOLERANCE
    legacy: bool = False


def sign_request(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``X-FlowMonkey-Signature`` value a sender puts on ``body``, signed now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, f'{t}.'.encode() + body)}"


def sign_body(secret: str, body: bytes) -> str:
    """The old body-only form, ``sha256=<hex>``: accepted only by a trigger with
    ``legacySignature: true`` (it replays for ever; use :func:`sign_request`)."""
    return "sha256=" + _mac(secret, body)


def authenticate(
    policy: SignaturePolicy, headers: Mapping[str, str], body: bytes, *, now: datetime, trigger_id: str
) -> Caller:
    """How the request proves it may call the trigger, or a :class:`Refusal` (401) saying why not.

    ``headers`` are looked up by lower-case name (Starlette's headers are).
    """
    if _bearer_matches(policy.secret, headers.get("authorization", "")):
        return Caller(bearer=True)
    header = headers.get(SIGNATURE_HEADER.lower())
    if header is None:
        raise Refusal(
            401,
            f"trigger {trigger_id!r} needs 'Authorization: Bearer <secret>' or '{SIGNATURE_HEADER}: {_FORMAT}'",
        )
    if header.startswith("sha256="):
        return _legacy(policy, header, body)
    timestamp, given = _parse(header)
    expected = _mac(policy.secret, f"{timestamp}.".encode() + body)
    matching = [sig for sig in given if _same(sig, expected)]
    if not matching:
        raise Refusal(401, f"{SIGNATURE_HEADER} does not match the body (signed: '<t>.' + body)")
    skew = abs(now.timestamp() - timestamp)
    if skew > policy.tolerance.total_seconds():
        raise Refusal(
            401,
            f"{SIGNATURE_HEADER} was made {skew:.0f} s from the server's time; at most "
            f"{policy.tolerance.total_seconds():.0f} s are accepted: sign each delivery when sending it",
        )
    valid_until = datetime.fromtimestamp(timestamp, UTC) + policy.tolerance
    return Caller(signature=Signature(value=expected, valid_until=valid_until))


def _bearer_matches(secret: str, authorization: str) -> bool:
    if authorization[:7].lower() != "bearer ":
        return False
    return _same(authorization[7:].strip(), secret)


def _legacy(policy: SignaturePolicy, header: str, body: bytes) -> Caller:
    if not policy.legacy:
        raise Refusal(
            401,
            f"the body-only 'sha256=' signature is no longer accepted (it can be replayed): "
            f"send '{SIGNATURE_HEADER}: {_FORMAT}'",
        )
    if not _same(header[7:].strip().lower(), _mac(policy.secret, body)):
        raise Refusal(401, f"{SIGNATURE_HEADER} does not match the body")
    return Caller()


def _parse(header: str) -> tuple[int, list[str]]:
    """``t`` and the ``v1`` signatures of a header; a :class:`Refusal` if it is not one."""
    timestamps: list[str] = []
    signatures: list[str] = []
    if len(header) <= _MAX_HEADER:
        for item in header.split(","):
            name, _, value = item.strip().partition("=")
            if name == "t":
                timestamps.append(value)
            elif name == "v1":
                signatures.append(value.lower())
    if (
        len(timestamps) != 1
        or not (timestamps[0].isascii() and timestamps[0].isdigit())
        or len(timestamps[0]) > 12
        or not signatures
    ):
        raise Refusal(401, f"{SIGNATURE_HEADER} must be '{_FORMAT}'")
    return int(timestamps[0]), signatures


def _same(given: str, expected: str) -> bool:
    """Constant-time equality; as bytes, since a header may hold any character."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
