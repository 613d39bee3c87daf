"""``python -m flowmonkey``: the ``flowmonkey`` command."""

from __future__ import annotations

from flowmonkey.cli import main

raise SystemExit(main())
