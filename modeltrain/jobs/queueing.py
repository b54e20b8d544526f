"""Queue a job exactly once and send its Celery message."""

from __future__ import annotations

import logging
from collections.abc import Callable

from modeltrain.exceptions import ServiceUnavailable
from modeltrain.jobs.models import JobOptions
from modeltrain.jobs.store import JobStore

log = logging.getLogger(__name__)

Enqueue = Callable[[str, float], None]  # (job id, time budget): sends the Celery message


def queue_job(store: JobStore, enqueue: Enqueue, job_id: str, options: JobOptions) -> bool:
    """Move the job to `queued` and send it to the workers; False when an earlier request
    already did. A message that cannot be sent fails the job, saying why (503)."""
    if not store.mark_queued(job_id, options):
        return False
    try:
        enqueue(job_id, options.time_budget)
        store.mark_dispatched(job_id)
    except Exception as exc:
        message = f"the job could not be queued: {exc}"
        store.fail(job_id, message)
        raise ServiceUnavailable(message, trackingId=job_id) from exc
    return True
