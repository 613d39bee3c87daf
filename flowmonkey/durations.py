"""Durations as people write them in flow files: ``250ms``, ``30s``, ``5m``, ``2h``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: object, *, where: str = "duration") -> timedelta:
    """Parse seconds (int/float) or a string such as ``"250ms"`` into a timedelta.

    Raises:
        ValueError: the value is negative, not a number, or has an unknown unit.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected seconds or a string like '30s', got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{where}: must not be negative, got {value!r}")
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            number, unit = match.groups()
            return timedelta(seconds=float(number) * _UNITS[unit or "s"])
    raise ValueError(
        f"{where}: expected seconds or a string like '250ms', '30s', '5m', '2h', '7d', got {value!r}"
    )


def format_duration(value: timedelta) -> str | float:
    """Write a timedelta back in the shortest exact unit form (``"90s"``, ``"2h"``)."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    millis = seconds * 1000
    if millis == int(millis):
        return f"{int(millis)}ms"
    return seconds
