"""Fan-out and fan-in: what a ``parallel`` or ``map`` step declares, and how its children
are counted while they run.

A fan step starts child executions (a branch each, or one per element of a list) and
waits. Its :class:`FanIn` is a row of counters the stores keep; every child's end adds
to them inside the child's own terminal transaction, and :func:`wakes_parent` says, from
the counters before and after, whether that end is the one the parent waits for. Each
reason to wake is a threshold crossed, and in a serial order only one transaction
crosses it: the parent is woken once per reason, never by every child.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from flowmonkey.model.selectors import InputSelector, selector_of

FAN_KINDS = frozenset({"parallel", "map"})
DEFAULT_MAX_CONCURRENCY = 10


class FanMode(StrEnum):
    ALL = "all"
    ANY = "any"


@dataclass(frozen=True, slots=True, kw_only=True)
class Branch:
    """One branch of a ``parallel`` step, or the one sub-flow a ``map`` runs per element."""

    flow: str
    version: str | None = None
    input: InputSelector | None = None
    output_selector: InputSelector | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"flow": self.flow}
        if self.version is not None:
            out["version"] = self.version
        if self.input is not None:
            out["input"] = self.input.to_dict()
        if self.output_selector is not None:
            out["outputSelector"] = self.output_selector.to_dict()
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FanSpec:
    """What a ``parallel`` (named ``branches``) or ``map`` (one ``branches`` entry, the
    element flow) step runs, and how many of its children may fail."""

    kind: str
    branches: Mapping[str, Branch]
    mode: FanMode = FanMode.ALL
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    tolerated: int | str = 0
    """A count, or a percentage of the children as text (``"10%"``)."""

    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    def tolerated_of(self, total: int) -> int:
        """How many of ``total`` children may fail."""
        if isinstance(self.tolerated, int):
            return self.tolerated
        return math.floor(total * float(self.tolerated.rstrip("%")) / 100 + 1e-9)

    def to_dict(self) -> dict[str, Any]:
        """The step keys this spec came from (they join the step's ``to_dict``)."""
        out: dict[str, Any] = {}
        if self.is_map:
            out.update(self.branches["item"].to_dict())
            out["maxConcurrency"] = self.max_concurrency
        else:
            out["branches"] = {name: branch.to_dict() for name, branch in self.branches.items()}
            out["mode"] = self.mode.value
        if self.tolerated != 0:
            out["toleratedFailures"] = self.tolerated
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FanIn:
    """The counters of one fan step's children (one row per step visit and attempt).

    ``started`` children exist; ``done`` of them ended (``failed`` + ``succeeded``, which
    count only the ends recorded by the children themselves: a child the parent cancels
    does not count). ``flows`` pins the definition hash of each branch (a map: one).
    """

    fan_id: str
    parent_id: str
    step_id: str
    mode: FanMode
    total: int
    max_concurrency: int
    tolerated: int
    flows: tuple[str, ...]
    started: int = 0
    done: int = 0
    failed: int = 0
    succeeded: int = 0

    @property
    def running(self) -> int:
        return self.started - self.done

    @property
    def refill_at(self) -> int:
        """The number of running children at which the parent starts more (half the slots
        free: a wake per few children, not per child)."""
        return self.max_concurrency // 2

    @property
    def settled(self) -> bool:
        """Nothing more to wait for: all ended, too many failed, or (any) one succeeded."""
        if self.mode is FanMode.ANY:
            return self.succeeded > 0 or self.done >= self.total
        return self.done >= self.total or self.failed > self.tolerated

    def ended(self, failed: int, succeeded: int) -> FanIn:
        """The counters after ``failed`` + ``succeeded`` more children ended."""
        return replace(
            self,
            done=self.done + failed + succeeded,
            failed=self.failed + failed,
            succeeded=self.succeeded + succeeded,
        )

    def progress(self) -> str:
        """``37/100 done, 2 failed``."""
        return f"{self.done}/{self.total} done, {self.failed} failed"


def fan_id_of(execution_id: str, visit: int, attempt: int) -> str:
    """The fan of one visit and attempt of a step: a retry starts new children."""
    return f"{execution_id}/{visit}/{attempt}"


def wakes_parent(before: FanIn, after: FanIn) -> bool:
    """Whether the ends between ``before`` and ``after`` cross a threshold the parent
    waits for: everything settled, or enough slots free to start more children."""
    if after.settled:
        return not before.settled
    if after.started >= after.total:
        return False
    return before.running > after.refill_at >= after.running


def fan_spec(value: Mapping[str, Any]) -> FanSpec:
    """The :class:`FanSpec` of a step dict the flow schema accepted."""

    def optional(raw: Mapping[str, Any], key: str) -> InputSelector | None:
        return selector_of(raw[key], (key,)) if key in raw else None

    def branch(raw: Mapping[str, Any], *, input_key: str | None) -> Branch:
        return Branch(
            flow=raw["flow"],
            version=raw.get("version"),
            input=optional(raw, input_key) if input_key else None,
            output_selector=optional(raw, "outputSelector"),
        )

    tolerated = value.get("toleratedFailures", 0)
    if value["type"] == "map":
        return FanSpec(
            kind="map",
            branches={"item": branch(value, input_key=None)},
            max_concurrency=int(value.get("maxConcurrency", DEFAULT_MAX_CONCURRENCY)),
            tolerated=tolerated,
        )
    branches = {name: branch(raw, input_key="input") for name, raw in value["branches"].items()}
    return FanSpec(
        kind="parallel",
        branches=branches,
        mode=FanMode(value.get("mode", "all")),
        max_concurrency=len(branches),
        tolerated=tolerated,
    )
