"""The ``flowmonkey`` command (also ``python -m flowmonkey``).

For ``flowmonkey worker`` the stop signals are held (see :mod:`flowmonkey.shutdown`)
before anything heavy is imported, so a SIGTERM at any moment ends in a graceful exit 0.
"""

from __future__ import annotations

import sys

from flowmonkey.shutdown import hold_stop_signals


def main() -> int:
    if sys.argv[1:2] == ["worker"]:
        hold_stop_signals()
    from flowmonkey.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    raise SystemExit(main())
