"""``python -m flowmonkey_console``: the same as the ``flowmonkey-console`` command."""

from __future__ import annotations

from .app import main

if __name__ == "__main__":
    main()
