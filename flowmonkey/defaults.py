"""The composition users get by default: an :class:`Engine` with the built-in handlers.

The engine itself (:mod:`flowmonkey.engine`) runs exactly the handlers it is given and
knows none by name; which handlers come with FlowMonkey is decided here, one level up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowmonkey.engine import Engine as _BareEngine
from flowmonkey.handlers import builtin_handlers
from flowmonkey.model import Flow
from flowmonkey.registry import FlowRegistry, Handler, HandlerRegistry
from flowmonkey.stores.base import Store


def default_handlers(handlers: Iterable[Handler] = ()) -> HandlerRegistry:
    """A registry of the built-in handlers, then ``handlers`` (which may replace them)."""
    return HandlerRegistry([*builtin_handlers(), *handlers])


class Engine(_BareEngine):
    """The engine with FlowMonkey's built-in handlers (http, delay, approval, switch,
    conditional, subflow, transform, log, webhook, llm, job) beneath the ones given.

    A :class:`HandlerRegistry` is used as is (no built-ins are added to it). Every other
    argument is :class:`flowmonkey.engine.Engine`'s.
    """

    def __init__(
        self,
        store: Store,
        handlers: HandlerRegistry | Iterable[Handler] | None = None,
        flows: FlowRegistry | Iterable[Flow] | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(handlers, HandlerRegistry):
            handlers = default_handlers(handlers or ())
        super().__init__(store, handlers, flows, **options)
