"""The ``/`` filter language of the executions views: the parser is FlowMonkey's own
(:func:`flowmonkey.parse_filter`, shared with the bulk commands of the CLI)."""

from __future__ import annotations

from flowmonkey import ExecutionFilter, FilterError, parse_filter

__all__ = ["ExecutionFilter", "FilterError", "parse_filter", "typing_a_key"]


def typing_a_key(text: str) -> bool:
    """Whether the last word is a filter key still being typed (``sta``, ``flow``): while
    a filter applies as it is typed, that word is not yet a part of an id to look for."""
    words = text.split()
    if not words or text[-1:].isspace() or ":" in words[-1]:
        return False
    return any(key.startswith(words[-1]) for key in ("status", "flow", "since"))
