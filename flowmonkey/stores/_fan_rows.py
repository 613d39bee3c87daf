"""A :class:`~flowmonkey.model.fanout.FanIn` as a row of the ``fan_ins`` table (both SQL stores)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from flowmonkey.model.fanout import FanIn, FanMode

FAN_COLUMNS = (
    "fan_id",
    "parent_id",
    "step_id",
    "mode",
    "total",
    "max_concurrency",
    "tolerated",
    "flows",
    "started",
    "done",
    "failed",
    "succeeded",
)
FAN_COLUMN_LIST = ", ".join(FAN_COLUMNS)


def fan_row(fan: FanIn) -> tuple[Any, ...]:
    return (
        fan.fan_id,
        fan.parent_id,
        fan.step_id,
        fan.mode.value,
        fan.total,
        fan.max_concurrency,
        fan.tolerated,
        json.dumps(list(fan.flows)),
        fan.started,
        fan.done,
        fan.failed,
        fan.succeeded,
    )


def fan_of(row: Sequence[Any]) -> FanIn:
    values = dict(zip(FAN_COLUMNS, row, strict=True))
    values["mode"] = FanMode(values["mode"])
    values["flows"] = tuple(json.loads(values["flows"]))
    return FanIn(**values)
