"""Migrate: move an execution to another definition of its flow (a fixed flow file), by
hash, after a compatibility check; one compare-and-set per execution, recorded in its
history with the old and new hash."""

from __future__ import annotations

from dataclasses import dataclass

from flowmonkey.change import Change
from flowmonkey.engine.clock import Clock
from flowmonkey.engine.commits import COMMIT_RETRIES, Committer
from flowmonkey.engine.definitions import Definitions
from flowmonkey.errors import ConflictError, ExecutionNotFoundError, FlowMonkeyError, NotMigratableError
from flowmonkey.inputs import resolve_input
from flowmonkey.model import ACTIVE_STATUSES, Execution, Flow, StepRecord, StepStatus
from flowmonkey.state import next_revision, seal
from flowmonkey.stores.base import ExecutionQuery, ExecutionStore


@dataclass(frozen=True, slots=True)
class MigrationCheck:
    """Whether an execution can move to ``to_hash``; ``problems`` says why not."""

    execution_id: str
    from_hash: str
    to_hash: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class Migrations:
    """Checks and carries out migrations."""

    __slots__ = ("_clock", "_committer", "_definitions", "_store")

    def __init__(
        self, store: ExecutionStore, definitions: Definitions, committer: Committer, clock: Clock
    ) -> None:
        self._store = store
        self._definitions = definitions
        self._committer = committer
        self._clock = clock

    async def check(self, execution: Execution, target: Flow) -> MigrationCheck:
        """Can ``execution`` move to ``target``? Its current step must exist there with the
        same type, its context must still satisfy that step's input, and no child or job
        of it may be in flight."""
        problems = _shape_problems(execution, target)
        if not problems:
            problems += _step_problems(execution, await self._definitions.flow_of(execution), target)
        if not problems and await self._has_active_child(execution):
            problems.append("a child execution is in flight")
        return MigrationCheck(execution.id, execution.flow_hash, target.hash, tuple(problems))

    async def migrate(self, execution_id: str, target: Flow, by: str) -> Execution:
        for _ in range(COMMIT_RETRIES):
            execution = await self._store.get_execution(execution_id)
            if execution is None:
                raise ExecutionNotFoundError(f"no execution {execution_id!r}")
            check = await self.check(execution, target)
            if not check.ok:
                raise NotMigratableError(
                    f"execution {execution_id} cannot move to {target.hash[:12]}: {'; '.join(check.problems)}",
                    details={"problems": list(check.problems)},
                )
            await self._definitions.save(target)
            if await self._committer.commit(self._change(execution, target, by)):
                return execution
        raise ConflictError(f"could not migrate {execution_id}: it kept changing")

    def _change(self, execution: Execution, target: Flow, by: str) -> Change:
        now = self._clock.now()
        note = (
            f"definition {execution.flow_hash[:12]} ({execution.flow_version}) -> "
            f"{target.hash[:12]} ({target.version}) by {by}"
        )
        record = StepRecord(
            execution_id=execution.id,
            sequence=next_revision(execution),
            step_id=execution.current_step_id,
            attempt=execution.attempt,
            outcome=StepStatus.MIGRATED,
            started_at=now,
            finished_at=now,
            note=note,
            visit=execution.visit,
        )
        fields = {"flow_hash": target.hash, "flow_version": target.version}
        return seal(execution, fields, now, record, step=False)

    async def _has_active_child(self, execution: Execution) -> bool:
        query = ExecutionQuery(parent_execution_id=execution.id, statuses=ACTIVE_STATUSES)
        return bool((await self._store.list_executions(query, limit=1)).items)


def _shape_problems(execution: Execution, target: Flow) -> list[str]:
    if execution.status not in ACTIVE_STATUSES:
        return [f"it is {execution.status.value}"]
    if target.id != execution.flow_id:
        return [f"{target.hash[:12]} is a definition of flow {target.id!r}, not {execution.flow_id!r}"]
    if target.hash == execution.flow_hash:
        return ["it runs on that definition already"]
    return []


def _step_problems(execution: Execution, current: Flow, target: Flow) -> list[str]:
    step_id = execution.current_step_id
    step = target.steps.get(step_id) if step_id is not None else None
    if step is None:
        return [f"its current step {step_id!r} is not in the target"]
    problems = []
    was = current.steps.get(step.id)
    if was is not None and was.type != step.type:
        problems.append(
            f"step {step.id!r} is a {was.type!r} step in its definition, a {step.type!r} step in the target"
        )
    if execution.wait_reason is not None and execution.wait_reason.startswith("job "):
        problems.append("a job is in flight")  # run_job's wait reason names its job
    try:
        resolve_input(step.input, execution.context)
    except FlowMonkeyError as exc:
        problems.append(f"its context does not satisfy step {step.id!r}'s input: {exc.message}")
    return problems
