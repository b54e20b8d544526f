"""JobControls: what a client may do to a job it started — cancel it, end its model search
early, or forget it once finished. Framework-free; the API routes only map the answers."""

from __future__ import annotations

import logging
from typing import NoReturn

from modeltrain.batch.results import BatchResults
from modeltrain.constants import JobStatus
from modeltrain.exceptions import Conflict, NotFound
from modeltrain.jobs.models import Job
from modeltrain.jobs.store import JobStore
from modeltrain.logging import fields
from modeltrain.uploads.staging import UploadStaging

log = logging.getLogger(__name__)


class JobControls:
    def __init__(self, store: JobStore, staging: UploadStaging, results: BatchResults) -> None:
        self._store = store
        self._staging = staging
        self._results = results

    def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not finished; its staged bytes are freed unless a worker is
        running it (the worker frees them when it stops)."""
        job = self._existing(job_id)
        if not self._store.cancel(job_id):
            self._refuse(job, "has already {status}; only unfinished jobs can be cancelled")
        if job.status != JobStatus.RUNNING:
            self._staging.discard(job_id)
        log.info("job.cancelled", extra=fields(job_id=job_id))
        return self._store.get(job_id) or job

    def finish(self, job_id: str) -> Job:
        """End a running job's model search now; it then completes with the best so far."""
        job = self._existing(job_id)
        if not self._store.request_finish(job_id):
            self._refuse(job, "is {status}; only a running job can be finished early")
        log.info("job.finish_requested", extra=fields(job_id=job_id))
        return self._store.get(job_id) or job

    def forget(self, job_id: str) -> None:
        """Forget a finished job: its record, its list entry, any bytes still staged and a
        batch job's result. Its model, if it registered one, stays in the registry."""
        job = self._existing(job_id)
        done = self._store.forget(job_id)
        if done is None:
            raise NotFound(f"unknown trackingId {job_id!r}", trackingId=job_id)
        if not done:
            self._refuse(job, "is {status}; cancel it first, then forget it")
        self._staging.discard(job_id)
        self._results.delete(job_id)
        log.info("job.forgotten", extra=fields(job_id=job_id))

    def _existing(self, job_id: str) -> Job:
        job = self._store.get(job_id)
        if job is None:
            raise NotFound(f"unknown trackingId {job_id!r}", trackingId=job_id)
        return job

    def _refuse(self, job: Job, why: str) -> NoReturn:
        """409 for a control that does not fit the job's current status."""
        status = (self._store.get(job.id) or job).status.value
        raise Conflict(f"the job {why.format(status=status)}", trackingId=job.id, status=status)
