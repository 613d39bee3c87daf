"""Sortable unique ids (ULID layout: 48-bit milliseconds + 80 random bits, Crockford base32).

Ids sort by creation time, so "newest first" paging can walk the primary key.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now_ms: int | None = None) -> str:
    """A new 26-character ULID string."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    return _encode((millis << 80) | int.from_bytes(os.urandom(10), "big"))


def first_id(at_ms: int) -> str:
    """The lowest id of millisecond ``at_ms``: every id made at or after it sorts at or
    after this one, every id made before it sorts before."""
    return _encode(max(at_ms, 0) << 80)


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
