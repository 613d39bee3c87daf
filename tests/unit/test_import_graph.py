"""The import graph of ``flowmonkey`` and ``tui`` runs one way: no cycle, no upward import.

Every import counts, wherever it is written: at module level, under ``TYPE_CHECKING`` or
inside a function. Python runs a function-level import late, but the two modules still
depend on each other, and a cycle hidden that way is still a cycle. The graph is read from
the source with :mod:`ast`; nothing is imported to build it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flowmonkey", "tui")

# The layers, lowest first (DESIGN.md §1). A module may import from its own layer and the
# layers below it, never from a layer above. Names are inside the flowmonkey package (a
# package's name covers everything in it; "__init__" is the package's own module, the
# public API); "tui" is the console package.
# fmt: off
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base",     ("ids", "errors", "durations", "result", "jsonvalues", "faults")),
    ("model",    ("model", "change")),
    ("stores",   ("stores", "stores.health", "inputs", "events", "observers")),
    ("registry", ("registry", "state", "params")),
    ("engine",   ("engine",)),
    ("services", ("handlers", "retention", "runtime", "runtime_stats", "leases", "outage", "jobs", "triggers", "flowfiles", "flowdirectory",
                  "coordination", "filters", "bulk", "metrics", "tracing", "jsonlogs")),
    ("edges",    ("cli", "cliopts", "worker", "defaults", "testing", "bench", "bench_map", "bench_observe", "bench_flows", "bench_limits", "bench_probe", "bench_workers", "emit",
                  "shutdown", "observability", "__init__", "__main__")),
    ("console",  ("tui",)),
)
# fmt: on
LAYER_OF_NAME = {name: index for index, (_, names) in enumerate(LAYERS) for name in names}


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` imports ``target`` at ``file:line``."""

    source: str
    target: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source} -> {self.target}"


def modules() -> dict[str, Path]:
    """Every module of the packages by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from X import ...`` names, with a relative ``X`` resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    anchor = package[: len(package) - node.level + 1]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, path: Path, known: dict[str, Path]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = _absolute(node, module, path.name == "__init__.py")
    for alias in node.names:
        # `from pkg import sub` depends on the submodule; `from pkg import name`, on pkg.
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in known else base


def edges(known: dict[str, Path]) -> list[Edge]:
    """Every import from one known module to another, wherever it is written."""
    found: set[Edge] = set()
    for module, path in known.items():
        file = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text("utf-8"), file)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, module, path, known):
                    if target in known and target != module:
                        found.add(Edge(module, target, file, node.lineno))
    return sorted(found, key=lambda e: (e.file, e.line, e.target))


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of the module, or of the innermost package it is in."""
    package, _, rest = module.partition(".")
    if package != "flowmonkey":
        names = [package]
    elif not rest:
        names = ["__init__"]
    else:
        parts = rest.split(".")
        names = [".".join(parts[:n]) for n in range(len(parts), 0, -1)]
    for name in names:
        if name in LAYER_OF_NAME:
            return LAYER_OF_NAME[name]
    raise LookupError(f"{module} is in no layer: place it in LAYERS in {Path(__file__).name}")


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that reach each other (Tarjan's algorithm, iteratively);
    every group of more than one module is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def enter(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        work.append((node, iter(sorted(graph[node]))))

    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        enter(start)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = stack[stack.index(node) :]
                    del stack[stack.index(node) :]
                    groups.append(sorted(group))
            elif successor not in index:
                enter(successor)
            elif successor in stack:
                low[node] = min(low[node], index[successor])
    return groups


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for module in modules():
        try:
            layer_of(module)
        except LookupError as exc:
            unplaced.append(str(exc))
    assert not unplaced, "\n".join(unplaced)


def test_no_import_cycle() -> None:
    known = modules()
    every = edges(known)
    graph: dict[str, set[str]] = {module: set() for module in known}
    for edge in every:
        graph[edge.source].add(edge.target)
    problems = []
    for group in strongly_connected(graph):
        if len(group) > 1:
            inside = "\n".join(f"    {e}" for e in every if e.source in group and e.target in group)
            problems.append(f"import cycle among {', '.join(group)}:\n{inside}")
    assert not problems, "\n".join(problems)


def test_no_upward_import() -> None:
    upward = []
    for edge in edges(modules()):
        source, target = layer_of(edge.source), layer_of(edge.target)
        if target > source:
            upward.append(f"{edge}: upward, from layer {LAYERS[source][0]} to layer {LAYERS[target][0]}")
    assert not upward, "\n".join(upward)


def test_the_console_uses_only_the_public_api() -> None:
    around = [
        f"{edge}: the console imports flowmonkey's public API only (from flowmonkey import ...)"
        for edge in edges(modules())
        if edge.source.partition(".")[0] == "tui" and edge.target.startswith("flowmonkey.")
    ]
    assert not around, "\n".join(around)


def test_the_checks_see_what_they_look_for() -> None:
    """The rules above would pass on an empty graph: make sure they read real edges, and
    that a cycle and an upward import are found."""
    known = modules()
    every = {(e.source, e.target) for e in edges(known)}
    assert ("flowmonkey.engine.core", "flowmonkey.errors") in every  # a plain import
    assert ("tui.app", "flowmonkey") in every  # the public API
    assert any(s == "flowmonkey.runtime" and t == "flowmonkey.jobs" for s, t in every)  # TYPE_CHECKING
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"], ["d"]]
    assert layer_of("flowmonkey.stores.sqlite") < layer_of("flowmonkey.engine.core") < layer_of("tui.app")
