"""The public API is exactly ``flowmonkey.__all__``, and every name in it imports."""

from __future__ import annotations

import flowmonkey

DESIGN_NAMES = {
    "Engine", "Flow", "Step", "InputSelector", "Transitions", "RetryPolicy", "Execution",
    "ExecutionStatus", "StepRecord", "TimeoutConfig", "Result", "StepResult", "HandlerParams",
    "handler", "FlowRegistry", "HandlerRegistry", "FlowMonkeyError", "ErrorCode", "StoreError",
    "ConflictError", "MemoryStore", "open_store", "CreateResult", "CancelResult", "EventType",
}


def test_every_exported_name_exists() -> None:
    missing = [name for name in flowmonkey.__all__ if not hasattr(flowmonkey, name)]
    assert missing == []


def test_the_design_contract_is_exported() -> None:
    assert DESIGN_NAMES <= set(flowmonkey.__all__)


def test_all_has_no_duplicates() -> None:
    assert len(flowmonkey.__all__) == len(set(flowmonkey.__all__))


def test_no_private_or_module_names_leak() -> None:
    public = {n for n in dir(flowmonkey) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(flowmonkey, n)).__name__ == "module"}
    assert public - modules - {"annotations"} == set(flowmonkey.__all__) - {"__version__"}
