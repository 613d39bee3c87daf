"""Input selectors: what part of the context a step (or a branch, or a map's output)
takes, as an immutable value built from its dict in the flow format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flowmonkey.model._json import JSON, JsonPath
from flowmonkey.model.schema import validate_flow


class SelectorType(StrEnum):
    KEY = "key"
    KEYS = "keys"
    PATH = "path"
    TEMPLATE = "template"
    FULL = "full"
    STATIC = "static"


# The fields each selector type uses; the others stay at their defaults.
_SELECTOR_FIELDS: dict[SelectorType, tuple[str, ...]] = {
    SelectorType.KEY: ("key",),
    SelectorType.KEYS: ("keys",),
    SelectorType.PATH: ("path",),
    SelectorType.TEMPLATE: ("template",),
    SelectorType.FULL: (),
    SelectorType.STATIC: ("value",),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSelector:
    """Chooses what part of the context a step's handler receives."""

    type: SelectorType = SelectorType.FULL
    key: str | None = None
    keys: tuple[str, ...] = ()
    path: str | None = None
    template: JSON = None
    value: JSON = None

    @classmethod
    def from_dict(cls, data: Any) -> InputSelector:
        """Parse a selector (``None`` is the default, ``full``).

        Raises:
            FlowError: naming the path of every problem.
        """
        if data is None:
            return cls()
        validate_flow(data, "input")
        return selector_of(data, ())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.value}
        for name in _SELECTOR_FIELDS[self.type]:
            value = getattr(self, name)
            out[name] = list(value) if name == "keys" else value
        return out


def selector_of(value: Mapping[str, Any], path: JsonPath) -> InputSelector:
    kind = SelectorType(value["type"])
    fields: dict[str, Any] = {name: value.get(name) for name in _SELECTOR_FIELDS[kind]}
    if kind is SelectorType.KEYS:
        fields["keys"] = tuple(fields["keys"])
    return InputSelector(type=kind, **fields)
