"""How the console is installed and what it may import.

It lives in ``tui/`` but installs as ``flowmonkey_console`` (an unrelated PyPI project is
called ``tui``), imports itself relatively and FlowMonkey only by its public names, and its
widgets and screens reach FlowMonkey only through the ``Backend``. The imports are read
from the source, so ``TYPE_CHECKING`` and function-level imports count too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import flowmonkey
from flowmonkey_console import app
from flowmonkey_console.backend import Backend

REPO = Path(__file__).resolve().parents[2]
CONSOLE = REPO / "tui"
INSTALLED_AS = "flowmonkey_console"
# What only the Backend may hold: the engine, its store and the services it embeds.
BACKEND_ONLY = {"Engine", "Store", "Runtime", "FlowDirectory", "TriggerService", "serve_http"}


def _package_folders(root: Path) -> Iterator[Path]:
    """``root`` and every folder under it that holds a module or data (caches aside)."""
    for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if folder.name != "__pycache__" and any(f.is_file() and f.suffix != ".pyc" for f in folder.iterdir()):
            yield folder


def _installed_name(folder: Path) -> str:
    parts = folder.relative_to(REPO).parts
    if parts[0] == "tui":
        parts = (INSTALLED_AS, *parts[1:])
    return ".".join(parts)


def _imports(path: Path) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"


def test_only_flowmonkey_and_flowmonkey_console_are_installed() -> None:
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert setuptools["package-dir"] == {INSTALLED_AS: "tui"}
    folders = [*_package_folders(REPO / "flowmonkey"), *_package_folders(CONSOLE)]
    missing = sorted({_installed_name(f) for f in folders} - set(setuptools["packages"]))
    assert missing == [], "add these to [tool.setuptools] packages in pyproject.toml"
    assert {name.split(".")[0] for name in setuptools["packages"]} == {"flowmonkey", INSTALLED_AS}


def test_the_console_script_and_python_m_start_the_installed_console(tmp_path: Path) -> None:
    (script,) = entry_points(group="console_scripts", name="flowmonkey-console")
    assert script.value == f"{INSTALLED_AS}.app:main", "stale install: run pip install -e ."
    assert script.load() is app.main
    # Outside the checkout, so nothing but the installed package can answer.
    done = subprocess.run(
        [sys.executable, "-m", INSTALLED_AS, "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: flowmonkey-console")


def test_the_console_imports_itself_relatively_and_flowmonkey_by_public_names() -> None:
    offenders = []
    for path in sorted(CONSOLE.rglob("*.py")):
        for node in _imports(path):
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            modules = (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
            for module in modules:
                root = module.split(".")[0]
                if root in ("tui", INSTALLED_AS) or (root == "flowmonkey" and module != "flowmonkey"):
                    offenders.append(f"{_where(path, node)} imports {module}")
            if isinstance(node, ast.ImportFrom) and node.module == "flowmonkey":
                private = [a.name for a in node.names if a.name not in flowmonkey.__all__]
                offenders += [
                    f"{_where(path, node)} imports {name} (not in flowmonkey.__all__)" for name in private
                ]
    assert offenders == []


def test_only_the_backend_holds_the_engine_and_its_services() -> None:
    offenders = [
        f"{_where(path, node)} imports {alias.name}"
        for path in sorted(CONSOLE.rglob("*.py"))
        if path.name not in ("backend.py", "services.py")  # the backend and the services it embeds
        for node in _imports(path)
        if isinstance(node, ast.ImportFrom) and node.module == "flowmonkey"
        for alias in node.names
        if alias.name in BACKEND_ONLY
    ]
    assert offenders == []


def test_widgets_and_screens_use_only_the_backends_public_methods() -> None:
    public = {name for name in dir(Backend) if not name.startswith("_")} | {"options"}  # set in __init__
    offenders = []
    for path in sorted(CONSOLE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Attribute) and _is_backend(node.value) and node.attr not in public:
                offenders.append(f"{_where(path, node)} uses backend.{node.attr}")
    assert offenders == []


def _is_backend(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "backend") or (
        isinstance(node, ast.Attribute) and node.attr == "backend"
    )


def test_tests_import_the_console_by_its_installed_name() -> None:
    offenders = [
        f"{_where(path, node)}"
        for path in sorted((REPO / "tests").rglob("*.py"))
        for node in _imports(path)
        for module in (
            [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        )
        if module.split(".")[0] == "tui" and not (isinstance(node, ast.ImportFrom) and node.level)
    ]
    assert offenders == []
