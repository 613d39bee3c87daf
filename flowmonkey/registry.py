"""Registries: every version of every flow, and handlers by type."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from flowmonkey.errors import FlowError, FlowNotFoundError, HandlerNotFoundError, StepConfigError
from flowmonkey.jsonvalues import path_of
from flowmonkey.model import Flow, JsonPath, Step
from flowmonkey.model.schema import did_you_mean, schema_problems
from flowmonkey.result import StepResult

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

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


def unreachable_steps(flow: Flow, handlers: HandlerRegistry | None = None) -> list[str]:
    """Step ids nothing leads to: no transition, and no step id a handler's config names.

    Without ``handlers`` only transitions count: what a config names is its handler's to say.
    Steps reached only through a handler's ``next_step`` at run time are not seen.
    """
    seen: set[str] = set()
    todo = [flow.initial_step_id]
    while todo:
        step_id = todo.pop()
        if step_id in seen or step_id not in flow.steps:
            continue
        seen.add(step_id)
        step = flow.steps[step_id]
        todo.extend(target for _, target in step.transitions.targets())
        if handlers is not None:
            todo.extend(target for _, target in handlers.step_refs(step))
    return [step_id for step_id in flow.steps if step_id not in seen]


FlowCheck = Callable[[Flow], None]
"""Raises a :class:`FlowError` (subclass) if a flow may not be registered."""


class FlowRegistry:
    """Every registered version of every flow; "latest" is the highest semantic version.

    Every flow registered is checked: its structure here, and whatever :meth:`check_with`
    adds (an :class:`~flowmonkey.engine.Engine` adds its handlers' config schemas).
    """

    def __init__(self, flows: Iterable[Flow] = ()) -> None:
        self._versions: dict[str, dict[str, Flow]] = {}
        self._by_hash: dict[str, Flow] = {}
        self._retired: set[str] = set()
        self._check: FlowCheck | None = None
        for flow in flows:
            self.register(flow)

    def check_with(self, check: FlowCheck) -> None:
        """Check every flow registered from now on with ``check`` too, and the flows
        registered already, now (raising what ``check`` raises for the first that fails)."""
        for versions in self._versions.values():
            for flow in versions.values():
                check(flow)
        self._check = check

    def register(self, flow: Flow) -> Flow:
        """Add (or replace) a version. Raises :class:`FlowError` if the flow is unrunnable,
        or what the installed check raises (:class:`StepConfigError`)."""
        problems = flow_problems(flow)
        if problems:
            raise FlowError("; ".join(problems), details={"problems": problems})
        if self._check is not None:
            self._check(flow)
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
            raise FlowNotFoundError(f"flow {flow_id!r} is not registered")
        if version is None:
            return versions[max(versions, key=version_key)]
        try:
            return versions[version]
        except KeyError:
            known = ", ".join(sorted(versions, key=version_key))
            raise FlowNotFoundError(f"flow {flow_id!r} has no version {version!r} (known: {known})") from None

    def by_hash(self, flow_hash: str) -> Flow | None:
        return self._by_hash.get(flow_hash)

    def versions(self, flow_id: str) -> list[Flow]:
        """All versions of a flow, oldest first."""
        versions = self._versions.get(flow_id, {})
        return [versions[v] for v in sorted(versions, key=version_key)]

    def latest(self) -> list[Flow]:
        """The live version of every flow that is not retired, by id."""
        return [self.get(flow_id) for flow_id in sorted(self._versions) if flow_id not in self._retired]

    def __contains__(self, flow_id: object) -> bool:
        return flow_id in self._versions and flow_id not in self._retired

    def __len__(self) -> int:
        return len(self.latest())


StepRef = tuple[JsonPath, str]
"""A step id a step's config names, with where in the config it is: ``(("cases", "gold"), "ship")``."""

StepRefs = Callable[[Mapping[str, Any]], Iterable[StepRef]]
"""``step_refs(config)``: every step id that ``config`` names (it may not match the config schema)."""


@runtime_checkable
class Handler(Protocol):
    """Anything with a ``type`` and ``async execute(params) -> StepResult``.

    Three optional members, read when present (a handler without them has none):

    - ``config_schema``: a JSON Schema a step's ``config`` must match; flow files are
      checked against it;
    - ``step_refs(config)``: the step ids the config names (see :data:`StepRefs`), so that
      flow checks know those steps exist and are reachable (``switch`` names its cases);
    - ``error_codes``: every code its failures carry, so that ``flowmonkey validate`` can
      warn about an ``onError`` entry no failure of the step can reach (undeclared: unknown).
    """

    @property
    def type(self) -> str: ...

    def execute(self, params: HandlerParams) -> Awaitable[StepResult]: ...


HandlerFunction = Callable[["HandlerParams"], Awaitable[StepResult]]


def config_schema_of(item: Handler) -> Mapping[str, Any] | None:
    """The handler's ``config_schema``, or None when it declares none."""
    schema = getattr(item, "config_schema", None)
    return schema if isinstance(schema, Mapping) else None


def error_codes_of(item: Handler) -> frozenset[str] | None:
    """The codes the handler's failures carry, or None when it does not say."""
    codes = getattr(item, "error_codes", None)
    return frozenset(codes) if codes is not None else None


def step_refs_of(item: Handler, config: Mapping[str, Any]) -> list[StepRef]:
    """The step ids ``config`` names, by the handler's ``step_refs``; none without it."""
    step_refs = getattr(item, "step_refs", None)
    return list(step_refs(config)) if callable(step_refs) else []


@dataclass(frozen=True, slots=True)
class FunctionHandler:
    """A handler made from an async function by :func:`handler`."""

    type: str
    fn: HandlerFunction
    config_schema: Mapping[str, Any] | None = None
    description: str | None = None
    step_refs: StepRefs | None = None
    error_codes: frozenset[str] | None = None

    def execute(self, params: HandlerParams) -> Awaitable[StepResult]:
        return self.fn(params)

    def __call__(self, params: HandlerParams) -> Awaitable[StepResult]:
        return self.fn(params)


def handler(
    handler_type: str,
    *,
    config_schema: Mapping[str, Any] | None = None,
    step_refs: StepRefs | None = None,
    error_codes: Iterable[str] | None = None,
) -> Callable[[HandlerFunction], FunctionHandler]:
    """Decorate ``async def fn(params) -> StepResult`` as the handler for ``handler_type``.

    Args:
        handler_type: the ``type`` steps name to run this handler.
        config_schema: a JSON Schema each step's ``config`` must match.
        step_refs: ``fn(config)`` listing the step ids a config names, as
            ``(path in the config, step id)`` pairs: for handlers that route to steps.
        error_codes: the codes this handler's failures carry (beyond those the engine
            gives any step: input errors, timeouts, an exception, an output not JSON).
    """

    def wrap(fn: HandlerFunction) -> FunctionHandler:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"handler {handler_type!r}: {fn.__qualname__} must be 'async def'")
        codes = frozenset(error_codes) if error_codes is not None else None
        return FunctionHandler(handler_type, fn, config_schema, inspect.getdoc(fn), step_refs, codes)

    return wrap


class HandlerRegistry:
    """Handlers by type."""

    def __init__(self, handlers: Iterable[Handler] = ()) -> None:
        self._handlers: dict[str, Handler] = {}
        self._validators: dict[str, Draft202012Validator | None] = {}
        for item in handlers:
            self.register(item)

    def register(self, item: Handler) -> Handler:
        handler_type = getattr(item, "type", None)
        if not isinstance(handler_type, str) or not callable(getattr(item, "execute", None)):
            raise TypeError(f"{item!r} is not a handler: it needs a 'type' and 'async execute(params)'")
        self._handlers[handler_type] = item
        self._validators.pop(handler_type, None)
        return item

    def unregister(self, handler_type: str) -> None:
        self._handlers.pop(handler_type, None)
        self._validators.pop(handler_type, None)

    def config_validator(self, handler_type: str) -> Draft202012Validator | None:
        """The compiled ``config_schema`` of the handler of ``handler_type`` (one per
        handler, compiled on first use); None when there is none, or no such handler."""
        if handler_type not in self._validators:
            item = self._handlers.get(handler_type)
            schema = config_schema_of(item) if item is not None else None
            self._validators[handler_type] = _compiled(schema) if schema is not None else None
        return self._validators[handler_type]

    def get(self, handler_type: str) -> Handler:
        try:
            return self._handlers[handler_type]
        except KeyError:
            raise HandlerNotFoundError(f"no handler registered for type {handler_type!r}") from None

    def types(self) -> list[str]:
        return sorted(self._handlers)

    def step_refs(self, step: Step) -> list[StepRef]:
        """The step ids ``step``'s config names, says its handler (none for an unknown type)."""
        item = self._handlers.get(step.type)
        return [] if item is None else step_refs_of(item, step.config)

    def __contains__(self, handler_type: object) -> bool:
        return handler_type in self._handlers

    def __iter__(self) -> Any:
        return iter(list(self._handlers.values()))


def _compiled(schema: Mapping[str, Any]) -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # slow to import: on first use

    return Draft202012Validator(schema)


def step_config_problems(flow: Flow, step: Step, handlers: HandlerRegistry) -> list[tuple[JsonPath, str]]:
    """What is wrong with ``step``'s config for its handler: where it does not match the
    handler's ``config_schema``, and the step ids it names (the handler's ``step_refs``)
    that ``flow`` lacks. Paths start at the step (``("config", "rules", 0, "next")``);
    none for a type no handler is registered for."""
    found: list[tuple[JsonPath, str]] = []
    validator = handlers.config_validator(step.type)
    if validator is not None:
        found.extend(
            (("config", *path), message) for path, message in schema_problems(validator, dict(step.config))
        )
    for path, target in handlers.step_refs(step):
        if target not in flow.steps:
            found.append((("config", *path), f'no step "{target}"' + did_you_mean(target, flow.steps)))
    return found


def check_step_configs(flow: Flow, handlers: HandlerRegistry) -> None:
    """Raise :class:`StepConfigError` naming flow, step and the JSON path in the config of
    every step whose config its handler would not accept (see :func:`step_config_problems`)."""
    problems = [
        {"step": step.id, "path": list(path), "message": message}
        for step in flow.steps.values()
        for path, message in step_config_problems(flow, step, handlers)
    ]
    if not problems:
        return
    lines = [f"step {p['step']!r}: config at {path_of(p['path'][1:])}: {p['message']}" for p in problems]
    raise StepConfigError(
        f"flow {flow.id!r} {flow.version}: " + "; ".join(lines),
        details={"flow": flow.id, "version": flow.version, "problems": problems},
    )
