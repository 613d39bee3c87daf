"""A malformed store URL given to the console: a clear message and exit code 1, the
password masked, no traceback (the console run for real, in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "url", ["postgresql://app:s3cret@[bad/x", "bogus://app:s3cret@x", "sqlite:///c.db?synchronus=full"]
)
def test_a_malformed_store_url_is_one_clear_message(tmp_path: Path, url: str) -> None:
    (tmp_path / "flows").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "from flowmonkey_console.app import main; main()", "--store", url],
        cwd=tmp_path,
        env={**os.environ, "TERM": "xterm-256color"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "flowmonkey-console: cannot open the store:" in output
    assert "Traceback" not in output and "s3cret" not in output
    assert "app:***@" in output or "synchronus" in output
