"""The engine's own step kinds ``parallel`` and ``map``: fan out to child executions, and
fan in when the last needed one ends.

One run of a fan step, as often as it is woken::

    the fan's counters (the first run opens them, pinning each child flow's hash)
      -> start children into free slots (one store transaction per batch)
      -> settled? collect the outputs in order / fail naming the child : wait

Children are real executions (``parent_execution_id`` is the step's execution). Their
ends are counted by the store in their own terminal transactions, which wake the parent
only when a threshold is crossed (:mod:`flowmonkey.model.fanout`). Every run is
idempotent: children exist once per index (the store's join rows), so a re-run after a
crash or a lost commit starts nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from flowmonkey.engine.clock import Clock
from flowmonkey.engine.creation import Creator, Start
from flowmonkey.engine.definitions import Definitions
from flowmonkey.engine.notify import Emitter, WakeListeners
from flowmonkey.errors import ErrorCode, FlowMonkeyError, InputError, StoreError
from flowmonkey.events import EventType
from flowmonkey.inputs import resolve_input
from flowmonkey.model import Execution, ExecutionStatus, Flow, Step
from flowmonkey.model.fanout import Branch, FanIn, FanSpec, fan_id_of
from flowmonkey.registry import FlowRegistry
from flowmonkey.result import Result, StepResult
from flowmonkey.stores.base import ExecutionStore, FanInStore

CancelChild = Callable[[str, str], Awaitable[object]]
"""Cancels a child execution (source ``parent``) with a reason."""


class FanStore(ExecutionStore, FanInStore, Protocol):
    """What fan steps need of a store."""


class FanOut:
    """Runs ``parallel`` and ``map`` steps (see the module docstring)."""

    __slots__ = ("_cancel", "_clock", "_creator", "_definitions", "_emitter", "_flows", "_store", "_wakes")

    def __init__(
        self,
        store: FanStore,
        flows: FlowRegistry,
        definitions: Definitions,
        creator: Creator,
        notify: tuple[Clock, Emitter, WakeListeners, CancelChild],
    ) -> None:
        self._store = store
        self._flows = flows
        self._definitions = definitions
        self._creator = creator
        self._clock, self._emitter, self._wakes, self._cancel = notify

    async def run(self, step: Step, execution: Execution, step_input: Any) -> StepResult:
        """One run of the fan step ``step`` of ``execution``: start, wait or finish."""
        spec = step.fan
        assert spec is not None
        try:
            elements = _Elements(step, spec, execution, step_input)
            fan = await self._fan(step, spec, execution, len(elements))
            if not fan.settled:
                fan = await self._start_more(fan, spec, execution, elements)
            if not fan.settled:
                return Result.wait(reason=f"{spec.kind} {fan.progress()}")
            return await self._finish(fan, spec)
        except StoreError as exc:
            if exc.transient:  # the runtime waits it out and runs the step again
                raise
            return Result.failure(exc.code, exc.message, exc.details)
        except FlowMonkeyError as exc:
            return Result.failure(exc.code, exc.message, exc.details)

    async def _fan(self, step: Step, spec: FanSpec, execution: Execution, total: int) -> FanIn:
        fan_id = fan_id_of(execution.id, execution.visit, execution.attempt)
        fan = await self._store.get_fan(fan_id)
        if fan is not None:
            return fan
        hashes = [await self._pin(branch) for branch in spec.branches.values()]
        fresh = FanIn(
            fan_id=fan_id,
            parent_id=execution.id,
            step_id=step.id,
            mode=spec.mode,
            total=total,
            max_concurrency=spec.max_concurrency,
            tolerated=spec.tolerated_of(total),
            flows=tuple(hashes),
        )
        return await self._store.open_fan(fresh)

    async def _pin(self, branch: Branch) -> str:
        """The child flow's definition, pinned for the whole fan (a hot reload in the
        middle does not split it across two definitions)."""
        flow = self._flows.get(branch.flow, branch.version)
        await self._definitions.save(flow)
        return flow.hash

    async def _start_more(
        self, fan: FanIn, spec: FanSpec, execution: Execution, elements: _Elements
    ) -> FanIn:
        free = fan.max_concurrency - fan.running
        indices = range(fan.started, min(fan.total, fan.started + max(free, 0)))
        if not indices:
            return fan
        flows = [await self._definitions.by_hash(flow_hash) for flow_hash in fan.flows]
        children = [
            (index, self._child(execution, flows[0 if spec.is_map else index], elements[index]))
            for index in indices
        ]
        after = await self._store.add_fan_children(fan.fan_id, children)
        for _, child in children[: after.started - fan.started]:
            self._emitter.emit(EventType.EXECUTION_CREATED, child, version=child.flow_version)
            self._wakes.signal(child.id)
        return after

    def _child(self, parent: Execution, flow: Flow, context: dict[str, Any]) -> Execution:
        start = Start(
            flow_id=flow.id,
            context=context,
            tenant_id=parent.tenant_id,
            parent_execution_id=parent.id,
            parent_step_id=parent.current_step_id,
        )
        return self._creator.new(flow, context, start)

    async def _finish(self, fan: FanIn, spec: FanSpec) -> StepResult:
        children = await self._store.fan_children(fan.fan_id)
        names = list(spec.branches)
        if fan.mode == "any" and fan.succeeded > 0:
            index, winner = _first(children, ExecutionStatus.COMPLETED)
            await self._cancel_running(children, f"branch {names[index]!r} completed first")
            return Result.success({names[index]: _output(spec.branches[names[index]], winner)})
        if fan.failed > fan.tolerated or (fan.succeeded == 0 and fan.mode == "any"):
            index, loser = _first(children, None)
            label = f"element {index}" if spec.is_map else f"branch {names[index]!r}"
            await self._cancel_running(children, f"{label} failed")
            return _failed(spec, fan, index, label, loser)
        if spec.is_map:
            branch = spec.branches["item"]
            return Result.success([_output(branch, child) for _, child in children])
        return Result.success({names[i]: _output(spec.branches[names[i]], child) for i, child in children})

    async def _cancel_running(self, children: list[tuple[int, Execution]], why: str) -> None:
        for _, child in children:
            if not child.is_terminal:
                await self._cancel(child.id, why)


class _Elements:
    """Each child's first context, built only for the children being started: ``{item,
    index}`` per element of a map's list; a branch's own input (or the step's), which
    must be an object."""

    def __init__(self, step: Step, spec: FanSpec, execution: Execution, step_input: Any) -> None:
        self._step, self._spec, self._execution, self._input = step, spec, execution, step_input
        if spec.is_map and not isinstance(step_input, list):
            raise _input_error(f"map step {step.id!r} needs a list as its input, got {_kind(step_input)}")
        self._names = list(spec.branches)

    def __len__(self) -> int:
        return len(self._input) if self._spec.is_map else len(self._names)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._spec.is_map:
            return {"item": self._input[index], "index": index}
        name = self._names[index]
        branch = self._spec.branches[name]
        value = resolve_input(branch.input, self._execution.context) if branch.input else self._input
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            where = f"branch {name!r} of step {self._step.id!r}"
            raise _input_error(f"{where} needs an object as input, got {_kind(value)}")
        return dict(value)


def _input_error(message: str) -> InputError:
    return InputError(message)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _first(children: list[tuple[int, Execution]], status: ExecutionStatus | None) -> tuple[int, Execution]:
    """The child that ended first with ``status`` (None: any status but completed)."""
    ended = [
        (child.completed_at or child.updated_at, index, child)
        for index, child in children
        if child.is_terminal
        and (child.status is status if status else child.status is not ExecutionStatus.COMPLETED)
    ]
    _, index, child = min(ended, key=lambda found: (found[0], found[1]))
    return index, child


def _output(branch: Branch, child: Execution) -> Any:
    """What the step's output keeps of one child: its final context (or the selected part),
    or, for a tolerated failure, ``{error, executionId}``."""
    if child.status is not ExecutionStatus.COMPLETED:
        return {"error": child.error.to_dict() if child.error else None, "executionId": child.id}
    if branch.output_selector is None:
        return child.context
    return resolve_input(branch.output_selector, child.context)


def _failed(spec: FanSpec, fan: FanIn, index: int, label: str, child: Execution) -> StepResult:
    error = child.error.to_dict() if child.error else None
    reason = error["message"] if error else child.status.value
    code = ErrorCode.ITEM_FAILED if spec.is_map else ErrorCode.BRANCH_FAILED
    details: dict[str, Any] = {
        "childExecutionId": child.id,
        "error": error,
        "failed": fan.failed,
        "tolerated": fan.tolerated,
    }
    details["index" if spec.is_map else "branch"] = index if spec.is_map else list(spec.branches)[index]
    return Result.failure(code, f"{label} failed ({child.id}): {reason}", details)
