"""The guards an execution runs under: how many steps it may take and how large its
context may grow."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowmonkey.errors import ContextLimitError

DEFAULT_MAX_STEPS = 1000
DEFAULT_MAX_CONTEXT_BYTES = 1024 * 1024
_SMALL_TYPES = (int, float, bool, type(None))
_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


@dataclass(frozen=True, slots=True)
class Limits:
    """``max_steps`` per execution and ``max_context_bytes`` of context JSON."""

    max_steps: int = DEFAULT_MAX_STEPS
    max_context_bytes: int = DEFAULT_MAX_CONTEXT_BYTES

    def fits(self, context: dict[str, Any]) -> bool:
        """Whether ``context`` is JSON of at most ``max_context_bytes``."""
        try:
            return len(_encode(context)) <= self.max_context_bytes
        except (TypeError, ValueError):
            return False

    def check(self, context: dict[str, Any]) -> None:
        """Raise :class:`ContextLimitError` unless ``context`` fits."""
        if not self.fits(context):
            raise ContextLimitError(
                f"context is larger than {self.max_context_bytes} bytes of JSON (or not JSON)"
            )


def is_small(value: Any) -> bool:
    """Whether a stored value is too small to matter for the context limit. Serialising
    the whole context after every step would cost more than the rest of the step."""
    if isinstance(value, str):
        return len(value) <= 256
    return isinstance(value, _SMALL_TYPES)
