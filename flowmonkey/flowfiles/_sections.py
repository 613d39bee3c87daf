"""Top-level sections of a flow file whose meaning another package checks.

The schema knows every key of the format; what a section *means* may belong to a package
above this one (``triggers:`` to :mod:`flowmonkey.triggers`). That package offers a
:class:`FlowSection`, and whoever loads flow files (the CLI, the worker, the console)
passes it in, so this package imports nothing above it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from flowmonkey.flowfiles._problems import JsonPath, Report
from flowmonkey.model import Flow


class FlowSection(Protocol):
    """Checks one top-level section of a flow that passed the schema."""

    @property
    def name(self) -> str:
        """The section's key, e.g. ``"triggers"``; problems are reported under it."""
        ...

    def check(self, flow: Flow) -> Iterable[tuple[JsonPath, str]]:
        """Every error in the section, as (path inside the section, message)."""
        ...


def check_sections(flow: Flow, sections: Sequence[FlowSection], report: Report) -> None:
    for section in sections:
        for path, message in section.check(flow):
            report.add((section.name, *path), message)
