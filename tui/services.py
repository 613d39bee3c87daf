"""Import the engine's optional companions without letting one take the console down.

The runtime, the flow directory watcher and the trigger service are imported lazily: a
missing or broken one shows as unavailable (with the reason) instead of failing.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from types import ModuleType

log = logging.getLogger("tui.services")


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionalModule:
    """An optional module, or why it is unavailable."""

    module: ModuleType | None
    reason: str = ""


def optional_module(name: str) -> OptionalModule:
    """Import ``name``; any failure becomes a reason to show, never an exception."""
    try:
        return OptionalModule(module=importlib.import_module(name))
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return OptionalModule(module=None, reason="not installed")
        return OptionalModule(module=None, reason=f"needs {exc.name}")
    except Exception as exc:  # a half-written module must not take the console down
        log.exception("cannot import %s", name)
        return OptionalModule(module=None, reason=f"broken: {exc}")
