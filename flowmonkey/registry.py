"""Registries: every version of every flow, and handlers by type."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from flowmonkey.errors import ErrorCode, FlowError, HandlerNotFoundError
from flowmonkey.model import Flow
from flowmonkey.result import StepResult

if TYPE_CHECKING:
    from flowmonkey.params import HandlerParams

_SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def version_key(version: str) -> tuple[Any, ...]:
    """Sort key ordering versions by semantic version (``10.0.0`` > ``9.0.0``).

    A pre-release sorts before its release; strings that are not semver sort first, by text.
    """
    match = _SEMVER.match(version.strip())
    if not match:
        return (0, (), version)
    major, minor, patch, pre = match.groups()
    numbers = (int(major), int(minor or 0), int(patch or 0))
    if pre is None:
        return (1, numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (1, numbers, 0, parts)


def flow_problems(flow: Flow) -> list[str]:
    """Structural problems that make a flow unrunnable, each naming flow, step and reference."""
    problems: list[str] = []
    label = f"flow {flow.id!r} {flow.version}"
    if not flow.steps:
        problems.append(f"{label}: has no steps")
        return problems
    if flow.initial_step_id not in flow.steps:
        problems.append(f"{label}: initialStepId {flow.initial_step_id!r} is not a step")
    for step in flow.steps.values():
        for name, target in step.transitions.targets():
            if target not in flow.steps:
                problems.append(f"{label}: step {step.id!r} {name} -> {target!r} is not a step")
    return problems


def unreachable_steps(flow: Flow) -> list[str]:
    """Step ids no transition leads to (they may still be reached through ``next_step``)."""
    seen: set[str] = set()
    todo = [flow.initial_step_id]
    while todo:
        step_id = todo.pop()
        if step_id in seen or step_id not in flow.steps:
            continue
        seen.add(step_id)
        todo.extend(target for _, target in flow.steps[step_id].transitions.targets())
        todo.extend(_config_targets(flow.steps[step_id].config))
    return [step_id for step_id in flow.steps if step_id not in seen]


def _config_targets(config: Mapping[str, Any]) -> list[str]:
    """Step ids named in a control handler's config (switch cases, conditional rules)."""
    targets: list[str] = []
    for key in ("default", "then", "else", "next"):
        if isinstance(config.get(key), str):
            targets.append(config[key])
    cases = config.get("cases")
    if isinstance(cases, Mapping):
        targets.extend(v for v in cases.values() if isinstance(v, str))
    for rule in config.get("rules") or ():
        if isinstance(rule, Mapping) and isinstance(rule.get("next"), str):
            targets.append(rule["next"])
    return targets


class FlowRegistry:
    """Every registered version of every flow; "latest" is the highest semantic version."""

    def __init__(self, flows: Iterable[Flow] = ()) -> None:
        self._versions: dict[str, dict[str, Flow]] = {}
        self._by_hash: dict[str, Flow] = {}
        self._retired: set[str] = set()
        for flow in flows:
            self.register(flow)

    def register(self, flow: Flow) -> Flow:
        """Add (or replace) a version. Raises :class:`FlowError` if the flow is unrunnable."""
        problems = flow_problems(flow)
        if problems:
            raise FlowError("; ".join(problems), details={"problems": problems})
        self._versions.setdefault(flow.id, {})[flow.version] = flow
        self._by_hash[flow.hash] = flow
        self._retired.discard(flow.id)
        return flow

    def remove(self, flow_id: str, version: str) -> None:
        """Withdraw one version (a flow file changed its version). Executions already on it
        keep their definition: it stays known by hash."""
        versions = self._versions.get(flow_id, {})
        versions.pop(version, None)
        if not versions:
            self._versions.pop(flow_id, None)

    def retire(self, flow_id: str) -> None:
        """Stop offering a flow to new executions; running ones keep their definition."""
        self._retired.add(flow_id)

    def get(self, flow_id: str, version: str | None = None) -> Flow:
        """The requested version, or the latest. Raises ``FLOW_NOT_FOUND``."""
        versions = self._versions.get(flow_id)
        if not versions or (version is None and flow_id in self._retired):
            raise FlowError(f"flow {flow_id!r} is not registered", code=ErrorCode.FLOW_NOT_FOUND)
        if version is None:
            return versions[max(versions, key=version_key)]
        try:
            return versions[version]
        except KeyError:
            known = ", ".join(sorted(versions, key=version_key))
            raise FlowError(
                f"flow {flow_id!r} has no version {version!r} (known: {known})",
                code=ErrorCode.FLOW_NOT_FOUND,
            ) from None

    def by_hash(self, flow_hash: str) -> Flow | None:
        return self._by_hash.get(flow_hash)

    def versions(self, flow_id: str) -> list[Flow]:
        """All versions of a flow, oldest first."""
        versions = self._versions.get(flow_id, {})
        return [versions[v] for v in sorted(versions, key=version_key)]

    def latest(self) -> list[Flow]:
        """The live version of every flow that is not retired, by id."""
        return [self.get(flow_id) for flow_id in sorted(self._versions) if flow_id not in self._retired]

    def is_retired(self, flow_id: str) -> bool:
        return flow_id in self._retired

    def __contains__(self, flow_id: object) -> bool:
        return flow_id in self._versions and flow_id not in self._retired

    def __len__(self) -> int:
        return len(self.latest())


@runtime_checkable
class Handler(Protocol):
    """Anything with a ``type`` and ``async execute(params) -> StepResult``."""

    @property
    def type(self) -> str: ...

    def execute(self, params: HandlerParams) -> Awaitable[StepResult]: ...


HandlerFunction = Callable[["HandlerParams"], Awaitable[StepResult]]


@dataclass(frozen=True, slots=True)
class FunctionHandler:
    """A handler made from an async function by :func:`handler`."""

    type: str
    fn: HandlerFunction
    config_schema: Mapping[str, Any] | None = None
    description: str | None = None

    def execute(self, params: HandlerParams) -> Awaitable[StepResult]:
        return self.fn(params)

    def __call__(self, params: HandlerParams) -> Awaitable[StepResult]:
        return self.fn(params)


def handler(
    handler_type: str,
    *,
    config_schema: Mapping[str, Any] | None = None,
) -> Callable[[HandlerFunction], FunctionHandler]:
    """Decorate ``async def fn(params) -> StepResult`` as the handler for ``handler_type``."""

    def wrap(fn: HandlerFunction) -> FunctionHandler:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"handler {handler_type!r}: {fn.__qualname__} must be 'async def'")
        return FunctionHandler(handler_type, fn, config_schema, inspect.getdoc(fn))

    return wrap


class HandlerRegistry:
    """Handlers by type."""

    def __init__(self, handlers: Iterable[Handler] = ()) -> None:
        self._handlers: dict[str, Handler] = {}
        for item in handlers:
            self.register(item)

    def register(self, item: Handler) -> Handler:
        handler_type = getattr(item, "type", None)
        if not isinstance(handler_type, str) or not callable(getattr(item, "execute", None)):
            raise TypeError(f"{item!r} is not a handler: it needs a 'type' and 'async execute(params)'")
        self._handlers[handler_type] = item
        return item

    def unregister(self, handler_type: str) -> None:
        self._handlers.pop(handler_type, None)

    def get(self, handler_type: str) -> Handler:
        try:
            return self._handlers[handler_type]
        except KeyError:
            raise HandlerNotFoundError(f"no handler registered for type {handler_type!r}") from None

    def types(self) -> list[str]:
        return sorted(self._handlers)

    def __contains__(self, handler_type: object) -> bool:
        return handler_type in self._handlers

    def __iter__(self) -> Any:
        return iter(list(self._handlers.values()))
