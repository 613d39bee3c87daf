"""``TestHarness``: run flows in memory and assert on the outcome.

harness = TestHarness(handlers=[greet], flows=[greeting])
execution = await harness.run("greeting", {"user": {"name": "World"}})
harness.assert_completed(execution)
harness.assert_context(execution, {"greeting": {"message": "Hello, World!"}})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flowmonkey.defaults import Engine
from flowmonkey.events import Event
from flowmonkey.model import Execution, ExecutionStatus, Flow, StepRecord
from flowmonkey.registry import Handler
from flowmonkey.stores.base import Store
from flowmonkey.stores.memory import MemoryStore


class TestHarness:
    """An engine on a fresh store (``MemoryStore`` unless given) that records events."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        *,
        handlers: Iterable[Handler] = (),
        flows: Iterable[Flow | Mapping[str, Any]] = (),
        store: Store | None = None,
        **engine_options: Any,
    ) -> None:
        parsed = [flow if isinstance(flow, Flow) else Flow.from_dict(flow) for flow in flows]
        self.store = store or MemoryStore()
        self.engine = Engine(self.store, handlers, parsed, **engine_options)
        self.events: list[Event] = []
        self.engine.events.subscribe(self.events.append)

    async def run(
        self, flow_id: str, context: dict[str, Any] | None = None, **create_options: Any
    ) -> Execution:
        """Create an execution and run it to the end (simulating time over waits)."""
        execution, _ = await self.engine.create(flow_id, context, **create_options)
        return await self.engine.run(execution.id, simulate_time=True)

    async def resume(self, execution: Execution | str, data: Any = None) -> Execution:
        """Resume a waiting execution and run it on."""
        execution_id = execution if isinstance(execution, str) else execution.id
        await self.engine.resume(execution_id, data)
        return await self.engine.run(execution_id, simulate_time=True)

    async def history(self, execution: Execution | str) -> list[StepRecord]:
        return await self.store.history(execution if isinstance(execution, str) else execution.id)

    @staticmethod
    def assert_status(execution: Execution, status: ExecutionStatus) -> None:
        if execution.status is not status:
            error = execution.error.to_dict() if execution.error else None
            raise AssertionError(
                f"execution {execution.id} is {execution.status.value}, expected {status.value}"
                f" (step {execution.current_step_id!r}, error {error})"
            )

    def assert_completed(self, execution: Execution) -> None:
        self.assert_status(execution, ExecutionStatus.COMPLETED)

    def assert_failed(self, execution: Execution, code: str | None = None) -> None:
        self.assert_status(execution, ExecutionStatus.FAILED)
        if code is not None and (execution.error is None or execution.error.code != code):
            raise AssertionError(f"execution failed with {execution.error}, expected code {code}")

    def assert_waiting(self, execution: Execution) -> None:
        self.assert_status(execution, ExecutionStatus.WAITING)

    @staticmethod
    def assert_context(execution: Execution, expected: Mapping[str, Any]) -> None:
        """Every key of ``expected`` is in the context with a matching (subset) value."""
        mismatch = _subset_mismatch(expected, execution.context, "context")
        if mismatch:
            raise AssertionError(mismatch)


def _subset_mismatch(expected: Any, actual: Any, where: str) -> str | None:
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}.{key}: missing (have {sorted(actual)})"
            mismatch = _subset_mismatch(value, actual[key], f"{where}.{key}")
            if mismatch:
                return mismatch
        return None
    if expected != actual:
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None
