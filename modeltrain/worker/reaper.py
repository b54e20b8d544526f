"""Reaper: notices jobs whose worker was lost (lease lapsed) and queues them again, and ends
MLflow runs left RUNNING by jobs that are over. Runs as a thread in each worker's main process;
every step is atomic in Redis, so several reapers never requeue one job twice."""

from __future__ import annotations

import logging
from collections.abc import Callable

from modeltrain.constants import DISPATCH_GRACE_SECONDS, JobStatus, Stage
from modeltrain.jobs import JobStore
from modeltrain.logging import fields
from modeltrain.registry import Registry
from modeltrain.runtime.periodic import PeriodicThread

log = logging.getLogger(__name__)

ORPHAN_RUN_SCAN_EVERY = 6  # reaper rounds between scans for orphaned MLflow runs


class Reaper(PeriodicThread):
    name = "reaper"

    def __init__(
        self,
        store: JobStore,
        requeue: Callable[[str, float], None],
        registry: Registry | None = None,
        interval: float = 10.0,
    ) -> None:
        super().__init__(interval)
        self._store = store
        self._requeue = requeue
        self._registry = registry
        self._rounds = 0

    def reap_once(self) -> list[str]:
        """Requeue every running job whose lease lapsed; returns their ids."""
        requeued = []
        for job_id in self._store.running_ids():
            if not self._store.requeue_if_stale(job_id):
                continue
            job = self._store.get(job_id)
            if job is None:
                continue
            self._requeue(job_id, job.options.time_budget)
            requeued.append(job_id)
            log.warning("job.worker_lost.requeued", extra=fields(job_id=job_id))
        return requeued

    def dispatch_stranded(self, grace: float = DISPATCH_GRACE_SECONDS) -> list[str]:
        """Send again the jobs queued by an API that died before sending their message."""
        sent = []
        for job_id in self._store.undispatched_ids(grace):
            job = self._store.get(job_id)
            if job is not None and job.status == JobStatus.PENDING and job.stage == Stage.QUEUED:
                self._requeue(job_id, job.options.time_budget)
                sent.append(job_id)
                log.warning("job.dispatch.resent", extra=fields(job_id=job_id))
            self._store.mark_dispatched(job_id)
        return sent

    def end_orphan_runs(self) -> list[str]:
        if self._registry is None:
            return []

        def running(job_id: str) -> bool:
            job = self._store.get(job_id)
            return job is not None and job.status in (JobStatus.RUNNING, JobStatus.PENDING)

        ended = self._registry.fail_orphan_runs(running)
        if ended:
            log.info("registry.orphan_runs.ended", extra=fields(runs=len(ended)))
        return ended

    def tick(self) -> None:
        self.reap_once()
        self.dispatch_stranded()
        self._rounds += 1
        if self._rounds % ORPHAN_RUN_SCAN_EVERY == 0:
            self.end_orphan_runs()
