"""The shape the consolidation left, kept: no module over 450 lines, and ``Engine`` methods
that take at most five parameters besides ``self`` (``create`` is the public exception; the
constructor's extras are keyword-only options)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 450
MAX_PARAMETERS = 5
EXEMPT = {"create"}


def modules() -> list[Path]:
    return sorted([*(ROOT / "flowmonkey").rglob("*.py"), *(ROOT / "tui").rglob("*.py")])


def test_no_module_is_over_450_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args][1:]  # without self
    if function.name == "__init__":
        return len(positional)
    return len(positional) + len(arguments.kwonlyargs)


def test_engine_methods_take_at_most_five_parameters() -> None:
    tree = ast.parse((ROOT / "flowmonkey" / "engine" / "core.py").read_text())
    (engine,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Engine"]
    methods = [n for n in engine.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert len(methods) > 10
    wide = {m.name: parameters(m) for m in methods if m.name not in EXEMPT and parameters(m) > MAX_PARAMETERS}
    assert wide == {}
