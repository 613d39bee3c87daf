"""Fork: a new execution that starts at any step an execution visited, with the context
as it was before that step (or one the operator edited), linked both ways to its origin
(``metadata.forked_from`` on the fork, ``metadata.forks`` on the origin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from flowmonkey.engine.clock import Clock
from flowmonkey.engine.commits import COMMIT_RETRIES, Committer
from flowmonkey.engine.contexts import context_before, visits_of
from flowmonkey.engine.creation import Start
from flowmonkey.engine.definitions import Definitions
from flowmonkey.errors import ExecutionNotFoundError, NotRepairableError
from flowmonkey.model import Execution, Flow
from flowmonkey.registry import FlowRegistry
from flowmonkey.state import seal
from flowmonkey.stores.base import CreateResult, ExecutionStore

CreateFn = Callable[[Start], Awaitable[CreateResult]]


class Forks:
    """Starts forks of executions (see :meth:`fork`)."""

    __slots__ = ("_clock", "_committer", "_create", "_definitions", "_flows", "_store")

    def __init__(
        self,
        store: ExecutionStore,
        definitions: Definitions,
        flows: FlowRegistry,
        committer: Committer,
        services: tuple[Clock, CreateFn],
    ) -> None:
        self._store = store
        self._definitions = definitions
        self._flows = flows
        self._committer = committer
        self._clock, self._create = services

    async def fork(
        self,
        execution_id: str,
        step_id: str,
        visit: int | None,
        context: dict[str, Any] | None,
        definition: str,
    ) -> Execution:
        """Start a new execution at ``step_id`` (its last visit, or ``visit``) of the
        origin, with the context before it (or ``context``), on the origin's pinned
        definition or the ``live`` one."""
        origin = await self._store.get_execution(execution_id)
        if origin is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r}")
        history = await self._store.history(execution_id)
        visit = _visit(origin, history, step_id, visit)
        start_context = context if context is not None else context_before(origin.context, history, visit)
        flow = await self._flow(origin, definition)
        if step_id not in flow.steps:
            raise NotRepairableError(
                f"flow {flow.id!r} {flow.version} ({flow.hash[:12]}) has no step {step_id!r}"
            )
        origin_link = {"execution_id": origin.id, "step_id": step_id, "visit": visit}
        start = Start(
            flow_id=flow.id,
            context=start_context,
            definition=flow,
            step_id=step_id,
            tenant_id=origin.tenant_id,
            timeout=origin.timeout,
            metadata={"forked_from": origin_link},
        )
        fork = (await self._create(start)).execution
        await self._link(origin.id, fork.id)
        return fork

    async def context_before(self, execution_id: str, step_id: str, visit: int | None) -> dict[str, Any]:
        origin = await self._store.get_execution(execution_id)
        if origin is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r}")
        history = await self._store.history(execution_id)
        return context_before(origin.context, history, _visit(origin, history, step_id, visit))

    async def _flow(self, origin: Execution, definition: str) -> Flow:
        if definition == "pinned":
            return await self._definitions.flow_of(origin)
        if definition == "live":
            return self._flows.get(origin.flow_id)
        raise NotRepairableError(f"definition must be 'pinned' or 'live', got {definition!r}")

    async def _link(self, origin_id: str, fork_id: str) -> None:
        """Name the fork in the origin's ``metadata.forks`` (a change of its own, no record)."""
        for _ in range(COMMIT_RETRIES):
            origin = await self._store.get_execution(origin_id)
            if origin is None:
                return
            metadata = {**origin.metadata, "forks": [*origin.metadata.get("forks", []), fork_id]}
            now = self._clock.now()
            if await self._committer.commit(seal(origin, {"metadata": metadata}, now, step=False)):
                return


def _visit(origin: Execution, history: list[Any], step_id: str, visit: int | None) -> int:
    visits = visits_of(history, step_id)
    if origin.current_step_id == step_id and origin.visit not in visits:
        visits.append(origin.visit)  # the visit in progress, with no record yet
    if not visits:
        raise NotRepairableError(f"execution {origin.id} never reached step {step_id!r}")
    if visit is None:
        return visits[-1]
    if visit not in visits:
        raise NotRepairableError(f"execution {origin.id} has no visit {visit} of step {step_id!r}")
    return visit
