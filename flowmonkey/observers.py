"""Hooks through which metrics, traces and log context watch the engine and the runtime.

The engine, the runtime, the stores' group commit and the triggers call an
:class:`Observer` at a few points: a committed history record, a run segment (one claim
of an execution by a runtime), a handler's run, a commit batch, a trigger's fire and the
scheduler's lateness. This base class does nothing; :mod:`flowmonkey.metrics` (Prometheus)
and :mod:`flowmonkey.tracing` (OpenTelemetry) implement it, :class:`Observers` combines
several. Nothing here imports either library: without an observer the engine makes one
``is None`` check per hook and nothing else.

    engine = Engine(store, observer=Observers([metrics, tracing]))
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from flowmonkey.model import Execution, StepRecord

TraceContext = Mapping[str, str]
"""What an execution keeps of its traces: W3C ``traceparent`` strings by role
(``origin``: the request that caused it; ``segment``: its latest run segment)."""

TRACE_METADATA_KEY = "trace_context"
"""Where an execution keeps its :data:`TraceContext`: this key of its ``metadata``."""

_NOTHING: AbstractContextManager[None] = contextlib.nullcontext()


class Observer:
    """Every hook FlowMonkey calls; each does nothing here. Override the ones you need.

    A hook must be quick and must not raise: it runs on the step's path.
    """

    def committed(self, execution: Execution, record: StepRecord, seconds: float) -> None:
        """A change that appends ``record`` was committed (``execution`` as it is now);
        the commit took ``seconds`` as the engine saw it (queueing included)."""

    def segment(self, execution: Execution) -> AbstractContextManager[None]:
        """Around one run segment: a runtime steps ``execution`` while it stays runnable."""
        return _NOTHING

    def step(self, execution: Execution, step_id: str) -> AbstractContextManager[None] | None:
        """Around one handler run of ``step_id`` (``execution`` as it was before it); None
        when there is nothing to do around this one (cheaper than an empty manager)."""
        return None

    def trace_context(self, execution: Execution) -> TraceContext | None:
        """The trace context to store with ``execution`` at its next commit, or None
        when what it holds is current (asked once a step, while its segment runs)."""
        return None

    def origin(self) -> TraceContext | None:
        """The trace context of whatever creates an execution now (a request), if any."""
        return None

    def commit_batch(self, size: int, seconds: float) -> None:
        """A store wrote ``size`` commits in one transaction taking ``seconds``."""

    def trigger_fired(self, trigger_id: str, outcome: str) -> None:
        """A trigger fired; ``outcome`` is ``ok`` (an execution started), ``duplicate`` (an
        idempotent repeat found one), ``rejected`` (the request was refused) or ``failed``."""

    def schedule_lateness(self, trigger_id: str, seconds: float) -> None:
        """The scheduler fired a slot of ``trigger_id`` this many seconds after its time."""


class Observers(Observer):
    """Several observers as one: each hook is called on each observer that has it
    (overrides it), in order; a hook only one has goes straight to that one."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = tuple(observers)
        # Called on every step: kept bound, so a call looks nothing up.
        self._committed = tuple(o.committed for o in _having(self.observers, "committed"))
        self._segment = _having(self.observers, "segment")
        self._step = _having(self.observers, "step")
        self._trace = _having(self.observers, "trace_context")
        self._origin = _having(self.observers, "origin")
        self._batch = _having(self.observers, "commit_batch")
        self._fired = _having(self.observers, "trigger_fired")
        self._late = _having(self.observers, "schedule_lateness")

    def committed(self, execution: Execution, record: StepRecord, seconds: float) -> None:
        for committed in self._committed:
            committed(execution, record, seconds)

    def segment(self, execution: Execution) -> AbstractContextManager[None]:
        if len(self._segment) == 1:
            return self._segment[0].segment(execution)
        return _all([observer.segment(execution) for observer in self._segment])

    def step(self, execution: Execution, step_id: str) -> AbstractContextManager[None] | None:
        if len(self._step) == 1:
            return self._step[0].step(execution, step_id)
        managers = [m for observer in self._step if (m := observer.step(execution, step_id)) is not None]
        if len(managers) < 2:
            return managers[0] if managers else None
        return _all(managers)

    def trace_context(self, execution: Execution) -> TraceContext | None:
        return _first(observer.trace_context(execution) for observer in self._trace)

    def origin(self) -> TraceContext | None:
        return _first(observer.origin() for observer in self._origin)

    def commit_batch(self, size: int, seconds: float) -> None:
        for observer in self._batch:
            observer.commit_batch(size, seconds)

    def trigger_fired(self, trigger_id: str, outcome: str) -> None:
        for observer in self._fired:
            observer.trigger_fired(trigger_id, outcome)

    def schedule_lateness(self, trigger_id: str, seconds: float) -> None:
        for observer in self._late:
            observer.schedule_lateness(trigger_id, seconds)


@dataclass(frozen=True, slots=True)
class Hooks:
    """The hooks of one observer that do something, each None when it would do nothing:
    the step's path checks ``is None`` instead of calling a hook that only returns."""

    committed: Callable[[Execution, StepRecord, float], None] | None = None
    segment: Callable[[Execution], AbstractContextManager[None]] | None = None
    step: Callable[[Execution, str], AbstractContextManager[None] | None] | None = None
    trace_context: Callable[[Execution], TraceContext | None] | None = None
    origin: Callable[[], TraceContext | None] | None = None

    @classmethod
    def of(cls, observer: Observer | None) -> Hooks:
        if observer is None:
            return _NO_HOOKS
        return cls(**{name: _hook(observer, name) for name in _HOOK_NAMES})


_HOOK_NAMES = ("committed", "segment", "step", "trace_context", "origin")
_NO_HOOKS = Hooks()


def _hook(observer: Observer, name: str) -> Any:
    """``observer``'s ``name`` hook; through :class:`Observers`, straight to the one member
    that has it; None when no one overrides it."""
    if isinstance(observer, Observers):
        having = _having(observer.observers, name)
        if len(having) == 1:
            return _hook(having[0], name)
        return getattr(observer, name) if having else None
    return getattr(observer, name) if _having((observer,), name) else None


def _having(observers: tuple[Observer, ...], hook: str) -> tuple[Observer, ...]:
    """The observers whose class overrides ``hook`` (the others' does nothing)."""
    return tuple(o for o in observers if getattr(type(o), hook) is not getattr(Observer, hook))


def combine(observers: Sequence[Observer | None]) -> Observer | None:
    """One observer for those given (None for none): what the edges hand the engine."""
    present = [observer for observer in observers if observer is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else Observers(present)


@contextlib.contextmanager
def _all(managers: list[AbstractContextManager[None]]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for manager in managers:
            stack.enter_context(manager)
        yield


def _first(values: Iterator[TraceContext | None]) -> TraceContext | None:
    return next((value for value in values if value is not None), None)


__all__ = ["TRACE_METADATA_KEY", "Hooks", "Observer", "Observers", "TraceContext", "combine"]
