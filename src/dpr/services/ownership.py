"""Whose jobs a caller may see and act on."""

from __future__ import annotations

from dpr.domain.errors import NoSuchJob
from dpr.domain.job import Job
from dpr.domain.principal import Principal
from dpr.ports.job_repository import JobRepository


async def owned(repository: JobRepository, job_id: str, caller: Principal) -> Job:
    """The job, if ``caller`` may see it. Raises ``NoSuchJob`` when it does not exist or
    belongs to another owner (the same answer, so ids of others' jobs reveal nothing)."""
    job = await repository.get(job_id)
    scope = caller.owner_scope()
    if scope is not None and job.owner != scope:
        raise NoSuchJob(job_id)
    return job
