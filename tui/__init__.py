"""The FlowMonkey operator console (``flowmonkey-console``), a keyboard-first Textual app.

Installed as ``flowmonkey_console`` (the repository keeps it in ``tui/``), so its modules
import each other relatively. It imports only FlowMonkey's public API (``flowmonkey.__all__``).
"""

from __future__ import annotations

__all__ = ["ConsoleApp", "ConsoleOptions", "main"]


def __getattr__(name: str) -> object:
    # Lazy: importing the console package must not pull in Textual for users of the engine alone.
    if name in ("ConsoleApp", "main"):
        from . import app

        return getattr(app, name)
    if name == "ConsoleOptions":
        from .options import ConsoleOptions

        return ConsoleOptions
    raise AttributeError(name)
