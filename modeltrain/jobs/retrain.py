"""Retraining: a new job on the data an earlier job trained on, read back from the CSV that job
logged with its MLflow run — so it works after the staged bytes were freed, days later, on any
worker. Framework-free; the API route only maps fields."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from modeltrain.config import Settings
from modeltrain.constants import JobStatus
from modeltrain.exceptions import Conflict, InvalidInput, NotFound
from modeltrain.jobs.models import Job, JobOptions
from modeltrain.jobs.options import check_callback_url
from modeltrain.jobs.queueing import Enqueue, queue_job
from modeltrain.jobs.store import JobStore
from modeltrain.logging import fields
from modeltrain.registry import Registry
from modeltrain.registry.errors import registry_call
from modeltrain.training_options import (
    Given,
    check_columns,
    check_together,
    named_columns,
    parse_given,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainRequest:
    """What changes from the first job; None keeps its value."""

    # the training options it changes, by their wire names (training_options.py); `families`
    # empty: every family again
    options: dict[str, Any] = field(default_factory=dict)
    callback_url: str | None = None  # called when the new job ends (not inherited)


class Retrainer:
    def __init__(
        self, settings: Settings, store: JobStore, registry: Registry, enqueue: Enqueue
    ) -> None:
        self._settings = settings
        self._store = store
        self._registry = registry
        self._enqueue = enqueue

    def retrain(self, job_id: str, req: RetrainRequest) -> Job:
        first = self._store.get(job_id)
        if first is None:
            raise NotFound(f"unknown trackingId {job_id!r}", trackingId=job_id)
        run_id = self._stored_run(first)
        options = self._options(first, run_id, req)
        callback_url = check_callback_url(self._settings, req.callback_url)
        job = self._store.create(
            first.filename,
            options,
            self._settings.job_retention_seconds,
            retrain_of=first.id,
            callback_url=callback_url,
        )
        queue_job(self._store, self._enqueue, job.id, options)
        log.info("job.retrain.queued", extra=fields(job_id=job.id, retrain_of=first.id))
        return self._store.get(job.id) or job

    def _stored_run(self, job: Job) -> str:
        """The run whose logged CSV the new job reads; 409 when the job has none."""
        run_id = (job.result or {}).get("runId")
        if not job.status.is_terminal:
            raise Conflict(
                f"the job {job.id} is {job.status.value}: retrain it once it has completed",
                trackingId=job.id,
                status=job.status.value,
            )
        if job.status != JobStatus.COMPLETED or not run_id:
            raise Conflict(
                f"the job {job.id} has no stored data to train on again: it failed before its "
                "model was logged, and only a completed job's CSV is kept in MLflow",
                trackingId=job.id,
                status=job.status.value,
            )
        with registry_call(f"the run {run_id} of job {job.id} is gone from MLflow"):
            if self._registry.has_stored_csv(run_id):
                return str(run_id)
        raise Conflict(
            f"the job {job.id} has no stored data to train on again: its run {run_id} kept no "
            "CSV (it was deleted from MLflow)",
            trackingId=job.id,
        )

    def _options(self, first: Job, run_id: str, req: RetrainRequest) -> JobOptions:
        options = replace(first.options, source_run_id=run_id, file_sha256=None)
        if "target" in req.options and not (req.options["target"] or "").strip():
            raise InvalidInput("target may not be empty", field="target")
        changes = parse_given(req.options, Given(self._settings, first.filename))
        options = replace(options, **changes)
        check_together(options)
        if changes.get("target") is not None or named_columns(options):
            self._check_columns(run_id, options, changes.get("target"))
        return options

    def _check_columns(self, run_id: str, options: JobOptions, new_target: str | None) -> None:
        """A new target, and every column option, against the stored data's columns (read
        once)."""
        with registry_call(f"the run {run_id} is gone from MLflow"):
            columns = self._registry.stored_columns(run_id)
        if columns is None:
            return
        if new_target is not None and new_target not in columns:
            raise InvalidInput(
                f"target {new_target!r} is not a column of the data; its columns are: "
                + ", ".join(columns)[:1500],
                field="target",
            )
        check_columns(options, columns)
