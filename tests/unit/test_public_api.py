"""The public API is exactly ``flowmonkey.__all__``, and every name in it imports."""

from __future__ import annotations

import flowmonkey

DESIGN_NAMES = {
    "Engine",
    "Flow",
    "Step",
    "InputSelector",
    "Transitions",
    "RetryPolicy",
    "Execution",
    "ExecutionStatus",
    "StepRecord",
    "TimeoutConfig",
    "Result",
    "StepResult",
    "HandlerParams",
    "handler",
    "FlowRegistry",
    "HandlerRegistry",
    "FlowMonkeyError",
    "ErrorCode",
    "StoreError",
    "ConflictError",
    "MemoryStore",
    "open_store",
    "CreateResult",
    "CancelResult",
    "EventType",
}


def test_every_exported_name_exists() -> None:
    missing = [name for name in flowmonkey.__all__ if not hasattr(flowmonkey, name)]
    assert missing == []


def test_the_design_contract_is_exported() -> None:
    assert set(flowmonkey.__all__) >= DESIGN_NAMES


def test_all_has_no_duplicates() -> None:
    assert len(flowmonkey.__all__) == len(set(flowmonkey.__all__))


def test_no_private_or_module_names_leak() -> None:
    public = {n for n in dir(flowmonkey) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(flowmonkey, n)).__name__ == "module"}
    helpers = {"annotations", "importlib", "Any", "TYPE_CHECKING"}
    assert public - modules - helpers == set(flowmonkey.__all__) - {"__version__"}


def test_optional_drivers_load_only_when_their_names_are_used() -> None:
    import subprocess
    import sys

    probe = "import sys, flowmonkey; print(sorted(m for m in ('asyncpg', 'redis', 'starlette') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
