"""``job``: hand a step's work to a job, run outside the step by a ``JobRunner``.

The built-in ``job`` step (config ``jobType``; the step's input becomes the job's input),
or a custom handler's ``return await run_job(params, "resize", data)``. A job is
deduplicated by (execution, step, attempt), so a re-run of the step finds the same job;
when the job ends, its runner wakes the step, which then succeeds with the job's result
or fails with its error.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flowmonkey.durations import parse_duration
from flowmonkey.errors import ErrorCode
from flowmonkey.model import JobStatus
from flowmonkey.params import HandlerParams
from flowmonkey.registry import handler
from flowmonkey.result import Result, StepResult

DEFAULT_WAIT_RECHECK = timedelta(minutes=5)
JOB_FAILED = "JOB_FAILED"


async def run_job(
    params: HandlerParams,
    job_type: str,
    job_input: Any = None,
    *,
    recheck: timedelta = DEFAULT_WAIT_RECHECK,
) -> StepResult:
    """Hand the step's work to a job of ``job_type`` and wait for it.

    Returns the job's result as a success once it completed, its error as a failure
    once it failed, else a wait. The runner wakes the step when the job ends; the wait
    also re-checks the job every ``recheck`` (durably), in case that wake-up was lost
    (e.g. the job ended before the step had committed its wait).
    """
    job = await params.jobs.enqueue(job_type, job_input)
    if job.status is JobStatus.COMPLETED:
        return Result.success(job.result)
    if job.status is JobStatus.FAILED:
        error = job.error or {}
        return Result.failure(
            str(error.get("code") or JOB_FAILED),
            str(error.get("message") or f"job {job.id} failed"),
            error.get("details"),
        )
    return Result.wait(wake_at=params.now + recheck, reason=f"job {job.id} ({job_type})")


JOB_CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"jobType": {"type": "string"}, "recheck": {"type": ["string", "number"]}},
    "required": ["jobType"],
    "additionalProperties": False,
}


@handler("job", config_schema=JOB_CONFIG_SCHEMA)
async def job_handler(params: HandlerParams) -> StepResult:
    """Built-in ``job`` step: runs the step's input as a job of ``config.jobType``."""
    job_type = params.config.get("jobType")
    if not isinstance(job_type, str) or not job_type:
        return Result.failure(ErrorCode.INPUT_ERROR, f"step {params.step.id!r}: config.jobType is required")
    recheck = params.config.get("recheck")
    every = parse_duration(recheck) if recheck is not None else DEFAULT_WAIT_RECHECK
    return await run_job(params, job_type, params.input, recheck=every)
