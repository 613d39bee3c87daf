"""Every Python block in README.md runs, so the examples never rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[tuple[int, str]]:
    text = README.read_text()
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_readme_has_examples() -> None:
    assert len(python_blocks()) >= 4


@pytest.mark.parametrize(
    ("line", "code"), python_blocks(), ids=lambda v: f"README.md:{v}" if isinstance(v, int) else ""
)
def test_readme_block_runs(line: int, code: str) -> None:
    namespace: dict[str, object] = {"__name__": f"readme_block_{line}"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
