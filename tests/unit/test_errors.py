"""The error tree: drawn once (the docstring of flowmonkey.errors), true to the code, and
every class raised where it applies."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import flowmonkey
from flowmonkey import (
    ConflictError,
    ContextLimitError,
    Engine,
    ErrorCode,
    ExecutionStatus,
    Flow,
    FlowError,
    FlowMonkeyError,
    FlowNotFoundError,
    MemoryStore,
    StepNotFoundError,
    StoreError,
    TriggerError,
    TriggerNotFoundError,
    TriggerService,
)
from flowmonkey import errors as errors_module
from flowmonkey.change import Change
from tests.unit.helpers import BASIC, chain

ROOT = Path(__file__).resolve().parents[2]
# One row of the drawn tree: the branch drawing, the class, its code ("[CODE]": inherited).
TREE_ROW = re.compile(
    r"^    (?P<branch>[│├└─ ]*)(?P<name>[A-Z]\w*Error)\s+(?P<code>\[?[A-Z_]+\]?)", re.MULTILINE
)
# One row of the table of codes that only a step outcome has.
STEP_CODE_ROW = re.compile(r"^    (?P<code>[A-Z_]+)\s{2,}\S", re.MULTILINE)


def error_classes() -> list[type[FlowMonkeyError]]:
    """Every FlowMonkeyError subclass defined in flowmonkey, the root first."""
    for module in pkgutil.walk_packages(flowmonkey.__path__, "flowmonkey."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[FlowMonkeyError]] = []
    pending: list[type[FlowMonkeyError]] = [FlowMonkeyError]
    while pending:
        cls = pending.pop(0)
        if cls.__module__.startswith("flowmonkey."):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def drawn_tree() -> dict[str, tuple[str | None, str]]:
    """The docstring's tree: class name -> (parent name, code as drawn)."""
    drawn: dict[str, tuple[str | None, str]] = {}
    parents: list[str] = []
    for row in TREE_ROW.finditer(errors_module.__doc__ or ""):
        depth = len(row["branch"]) // 4
        del parents[depth:]
        drawn[row["name"]] = (parents[-1] if parents else None, row["code"])
        parents.append(row["name"])
    return drawn


def test_the_drawn_tree_is_the_class_tree() -> None:
    actual: dict[str, tuple[str | None, str]] = {}
    for cls in error_classes():
        parent = cls.__bases__[0].__name__ if cls is not FlowMonkeyError else None
        code = cls.code.value if "code" in vars(cls) else f"[{cls.code.value}]"
        actual[cls.__name__] = (parent, code)
    assert drawn_tree() == actual


def test_a_code_of_its_own_belongs_to_one_class() -> None:
    owners: dict[ErrorCode, list[str]] = {}
    for cls in error_classes():
        if "code" in vars(cls):
            owners.setdefault(cls.code, []).append(cls.__name__)
    shared = {code: names for code, names in owners.items() if len(names) > 1}
    assert shared == {}


def test_every_error_code_is_documented_once() -> None:
    doc = errors_module.__doc__ or ""
    of_classes = {row["code"] for row in TREE_ROW.finditer(doc) if not row["code"].startswith("[")}
    step_only = {row["code"] for row in STEP_CODE_ROW.finditer(doc.split("only a step outcome has")[1])}
    assert not of_classes & step_only
    assert of_classes | step_only == {code.value for code in ErrorCode}


def test_the_public_api_exports_the_whole_tree() -> None:
    assert {cls.__name__ for cls in error_classes()} <= set(flowmonkey.__all__)


# -- raise sites ---------------------------------------------------------------------------


def _called(func: ast.expr) -> str:
    """The name a call calls: ``X`` of ``X(...)`` and of ``module.X(...)``."""
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _error_calls() -> list[tuple[str, int, str, str | None]]:
    """Every call of an error class in flowmonkey/ and tui/: (file, line, class, code=)."""
    names = {cls.__name__ for cls in error_classes()}
    calls = []
    for path in sorted([*ROOT.joinpath("flowmonkey").rglob("*.py"), *ROOT.joinpath("tui").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node.func)
            if name not in names:
                continue
            code = next((k.value for k in node.keywords if k.arg == "code"), None)
            given = code.attr if isinstance(code, ast.Attribute) else ast.unparse(code) if code else None
            calls.append((path.relative_to(ROOT).as_posix(), node.lineno, name, given))
    return calls


def test_nothing_raises_a_code_that_has_its_own_class() -> None:
    dedicated = {cls.code.name: cls.__name__ for cls in error_classes() if "code" in vars(cls)}
    wrong = [
        f"{file}:{line}: {name}(code={code}): raise {dedicated[code]} instead"
        for file, line, name, code in _error_calls()
        if code is not None and code in dedicated and dedicated[code] != name
    ]
    assert wrong == []


def test_flowmonkey_raises_only_subclasses_of_the_root() -> None:
    root = [f"{file}:{line}" for file, line, name, _ in _error_calls() if name == "FlowMonkeyError"]
    assert root == []


def test_the_raise_site_check_sees_calls() -> None:
    calls = {(file, name) for file, _, name, _ in _error_calls()}
    assert ("flowmonkey/engine/limits.py", "ContextLimitError") in calls


# -- each class where it applies ------------------------------------------------------------


def make_engine(store: MemoryStore | None = None, *, max_context_bytes: int = 1 << 20) -> Engine:
    flows = [Flow.from_dict(chain("hold", ["wait", "echo"], outputKey="answer"))]
    return Engine(store or MemoryStore(), BASIC, flows, max_context_bytes=max_context_bytes)


async def test_an_unknown_flow_is_flow_not_found_and_a_flow_error() -> None:
    with pytest.raises(FlowNotFoundError, match="'ghost' is not registered") as raised:
        await make_engine().create("ghost", {})
    assert isinstance(raised.value, FlowError) and raised.value.code is ErrorCode.FLOW_NOT_FOUND
    with pytest.raises(FlowNotFoundError, match=r"no version '9\.9\.9'"):
        await make_engine().create("hold", {}, version="9.9.9")


def test_an_unknown_step_is_step_not_found() -> None:
    flow = Flow.from_dict(chain("hold", ["wait"]))
    with pytest.raises(StepNotFoundError, match="no step 'nope'") as raised:
        flow.step("nope")
    assert isinstance(raised.value, FlowError)


async def test_an_oversized_context_is_a_context_limit_error_at_create_and_resume() -> None:
    engine = make_engine(max_context_bytes=200)
    with pytest.raises(ContextLimitError):
        await engine.create("hold", {"blob": "x" * 500})
    execution, _ = await engine.create("hold", {})
    waiting = await engine.run(execution.id)
    with pytest.raises(ContextLimitError):
        await engine.resume(waiting.id, {"blob": "x" * 500})
    unchanged = await engine.get(waiting.id)
    assert unchanged is not None and unchanged.status is ExecutionStatus.WAITING


class OutrunStore(MemoryStore):
    """A MemoryStore on which, once ``outrun`` is set, another writer always commits first."""

    outrun = False

    async def commit(self, change: Change) -> bool:
        return False if self.outrun else await super().commit(change)


async def test_a_resume_that_keeps_losing_is_a_conflict_error() -> None:
    store = OutrunStore()
    engine = make_engine(store)
    execution, _ = await engine.create("hold", {})
    waiting = await engine.run(execution.id)
    store.outrun = True
    with pytest.raises(ConflictError, match="kept changing") as raised:
        await engine.resume(waiting.id, {"go": True})
    assert isinstance(raised.value, StoreError) and raised.value.code is ErrorCode.CONFLICT


async def test_an_unknown_trigger_is_trigger_not_found_and_a_trigger_error() -> None:
    store = MemoryStore()
    service = TriggerService(store, make_engine(store), secret="s")
    with pytest.raises(TriggerNotFoundError) as raised:
        await service.fire("ghost")
    assert isinstance(raised.value, TriggerError) and raised.value.code is ErrorCode.TRIGGER_NOT_FOUND
