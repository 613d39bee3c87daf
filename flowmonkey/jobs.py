"""Jobs: long-running (stateful) work of a step, run outside the step by a ``JobRunner``.

A step hands its work to a job and waits (``Result.wait``): either with the built-in
``job`` handler type (config ``jobType``, the step's input becomes the job's input) or
from a custom handler with ``return await run_job(params, "resize", data)``. A job is
deduplicated by (execution, step, attempt), so a re-run of the step finds the same job.

A :class:`JobRunner` claims jobs with a lease, keeps it alive with a heartbeat, and runs
the job function registered for the job's type::

    runner = JobRunner(engine)

    @runner.job("resize")
    async def resize(ctx: JobContext) -> dict:
        done = ctx.last_checkpoint or 0          # survives a crash of the runner
        for page in range(done, ctx.input["pages"]):
            ...
            await ctx.checkpoint(page + 1)        # also a heartbeat
        return {"pages": ctx.input["pages"]}

Every claim bumps the job's fence; a runner that lost its lease (it stalled, another
runner claimed the job) can no longer heartbeat, checkpoint or finish: its function is
cancelled. When a job finishes, the runner wakes the execution, the step runs again,
finds the finished job and succeeds with its result (or fails with its error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any

from flowmonkey.coordination import default_owner
from flowmonkey.engine import Engine
from flowmonkey.errors import FlowMonkeyError, JobFencedError, StoreError
from flowmonkey.events import Event, EventType
from flowmonkey.handlers.job import JOB_FAILED, job_handler
from flowmonkey.model import Job, JobStatus, WaitKind
from flowmonkey.stores.base import JobStore

log = logging.getLogger("flowmonkey.jobs")

DEFAULT_JOB_LEASE = timedelta(seconds=30)
DEFAULT_JOB_RECHECK = timedelta(seconds=60)
_WAKE_RETRIES = 6


class JobContext:
    """What a job function gets: its input, its last checkpoint, and a way to save one."""

    def __init__(self, runner: JobRunner, job: Job) -> None:
        self.job = job
        self.input: Any = job.input
        self.last_checkpoint: Any = job.checkpoint
        self._runner = runner
        self.fenced = False

    @property
    def attempt(self) -> int:
        """Which claim of this job this is (1 on the first run, more after a takeover)."""
        return self.job.fence

    async def checkpoint(self, value: Any) -> None:
        """Save ``value`` durably (a later runner starts from it) and extend the lease.

        Raises:
            JobFencedError: another runner took the job over; stop working on it.
        """
        await self._beat(value)
        self.last_checkpoint = value

    async def heartbeat(self) -> None:
        """Extend the lease (the runner also does this on its own every ``lease / 3``)."""
        await self._beat(None)

    async def _beat(self, checkpoint: Any) -> None:
        runner = self._runner
        held = await runner.store.heartbeat_job(
            job_id=self.job.id,
            fence=self.job.fence,
            until=runner.engine.now() + runner.lease,
            checkpoint=checkpoint,
        )
        if not held:
            self.fenced = True
            raise JobFencedError(f"job {self.job.id} was taken over by a newer claim")


JobFunction = Callable[[JobContext], Coroutine[Any, Any, Any]]


class JobRunner:
    """Claims jobs and runs their functions, by job type.

    Creating a runner registers the built-in ``job`` step type on the engine. Host it in
    a runtime (``Runtime(engine, jobs=runner)``) so that signals from other processes
    reach it too; alone it hears its own engine and looks every ``recheck``.

    Args:
        engine: the engine (and its store) the jobs belong to.
        functions: job functions by type (more with :meth:`register` / :meth:`job`).
        concurrency: jobs run at the same time.
        lease: how long a claim lasts without a heartbeat.
        recheck: the longest the runner sleeps without looking for jobs.
    """

    def __init__(
        self,
        engine: Engine,
        functions: Mapping[str, JobFunction] | None = None,
        *,
        concurrency: int = 4,
        lease: timedelta = DEFAULT_JOB_LEASE,
        owner: str | None = None,
        recheck: timedelta = DEFAULT_JOB_RECHECK,
    ) -> None:
        self.engine = engine
        self.store: JobStore = engine.store
        self.functions: dict[str, JobFunction] = dict(functions or {})
        self.concurrency = concurrency
        self.lease = lease
        self.owner = owner or default_owner()
        self.recheck = recheck
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._detach: Callable[[], None] | None = None
        self.finished = 0
        if "job" not in engine.handlers:
            engine.handlers.register(job_handler)

    def register(self, job_type: str, function: JobFunction) -> None:
        """Run ``function`` for jobs of ``job_type``."""
        self.functions[job_type] = function

    def job(self, job_type: str) -> Callable[[JobFunction], JobFunction]:
        """Decorator form of :meth:`register`."""

        def wrap(function: JobFunction) -> JobFunction:
            self.register(job_type, function)
            return function

        return wrap

    def poke(self) -> None:
        """Look for jobs now (a step may just have enqueued one)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def start(self) -> None:
        """Start claiming jobs in the background."""
        if self._loop is not None:
            return
        self._detach = self.engine.add_wake_listener(lambda _id, _at: self.poke())
        self._loop = asyncio.create_task(self._main(), name=f"flowmonkey-jobs-{self.owner}")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; give running jobs ``grace`` seconds, then cancel them (their
        leases lapse and another runner resumes them from their last checkpoint)."""
        if self._loop is None:
            return
        self._loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._loop
        self._loop = None
        if self._detach is not None:
            self._detach()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def run_once(self) -> int:
        """Claim what is claimable now and run it to the end; returns how many ran."""
        tasks = await self._claim()
        await asyncio.gather(*tasks)
        return len(tasks)

    async def _main(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._claim()
            except StoreError as exc:  # the runtime tells of outages: no traceback here
                log.log(
                    logging.DEBUG if exc.transient else logging.WARNING,
                    "job runner %s: claiming failed: %s",
                    self.owner,
                    exc.message,
                )
            except Exception:
                log.exception("job runner %s: claiming failed", self.owner)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.recheck.total_seconds()):
                    await self._wake.wait()

    async def _claim(self) -> list[asyncio.Task[None]]:
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return []
        jobs = await self.store.claim_jobs(
            owner=self.owner, now=self.engine.now(), lease=self.lease, limit=free
        )
        tasks = [asyncio.create_task(self._run(job), name=f"flowmonkey-job-{job.id}") for job in jobs]
        for task in tasks:
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return tasks

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # a slot is free

    async def _run(self, job: Job) -> None:
        try:
            await self._run_job(job)
        except Exception:
            # E.g. the store failed while finishing: the lease lapses and another
            # claim runs the job again from its last checkpoint.
            log.exception("job runner %s: job %s failed to run", self.owner, job.id)

    async def _run_job(self, job: Job) -> None:
        function = self.functions.get(job.type)
        context = JobContext(self, job)
        _emit(self.engine, EventType.JOB_STARTED, job)
        if function is None:
            error = {"code": JOB_FAILED, "message": f"no job function registered for type {job.type!r}"}
            await self._finish(job, JobStatus.FAILED, None, error)
            return
        work = asyncio.create_task(function(context))
        beat = asyncio.create_task(self._heartbeat(context, work))
        try:
            result = await work
        except JobFencedError:
            log.warning("job %s: fenced out (another runner took it over)", job.id)
            return
        except asyncio.CancelledError:
            if not context.fenced:
                raise
            log.warning("job %s: fenced out (another runner took it over)", job.id)
            return
        except Exception as exc:
            await self._finish(job, JobStatus.FAILED, None, _error_of(exc))
            return
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        await self._finish(job, JobStatus.COMPLETED, result, None)

    async def _heartbeat(self, context: JobContext, work: asyncio.Task[Any]) -> None:
        while not work.done():
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await context.heartbeat()
            except JobFencedError:
                work.cancel()
                return
            except StoreError as exc:
                log.warning("job %s: heartbeat failed: %s", context.job.id, exc.message)
            except Exception:
                log.warning("job %s: heartbeat failed", context.job.id, exc_info=True)

    async def _finish(self, job: Job, status: JobStatus, result: Any, error: dict[str, Any] | None) -> None:
        written = await self.store.finish_job(
            job_id=job.id, fence=job.fence, status=status, result=result, error=error, now=self.engine.now()
        )
        if not written:
            log.warning("job %s: finished but fenced out; its result is discarded", job.id)
            return
        self.finished += 1
        kind = EventType.JOB_COMPLETED if status is JobStatus.COMPLETED else EventType.JOB_FAILED
        _emit(self.engine, kind, job, error=error)
        await self._wake_execution(job.execution_id)

    async def _wake_execution(self, execution_id: str) -> None:
        """Make the waiting step run again now. The step may not have committed its wait
        yet (the job was that quick): then try again shortly; its re-check timer is the
        last resort."""
        for attempt in range(_WAKE_RETRIES):
            if await self.engine.wake(execution_id):
                return
            execution = await self.engine.get(execution_id)
            if execution is None or execution.is_terminal or execution.wait_kind is WaitKind.RETRY:
                return
            await asyncio.sleep(0.05 * 2**attempt)


def _error_of(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, FlowMonkeyError):
        return {"code": str(exc.code), "message": exc.message, "details": exc.details}
    return {"code": JOB_FAILED, "message": f"{type(exc).__name__}: {exc}", "details": None}


def _emit(engine: Engine, kind: EventType, job: Job, **data: Any) -> None:
    if engine.events.active:
        engine.events.emit(
            Event(
                type=kind,
                at=engine.now(),
                execution_id=job.execution_id,
                step_id=job.step_id,
                data={"job_id": job.id, "job_type": job.type, "fence": job.fence, **data},
            )
        )


__all__ = [
    "DEFAULT_JOB_LEASE",
    "JOB_FAILED",
    "JobContext",
    "JobFencedError",
    "JobFunction",
    "JobRunner",
]
