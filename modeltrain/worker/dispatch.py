"""Sending a job (training or batch: one task runs both) to the queue; used by the API and by
the worker's reaper.

Only the task name travels, so the API never imports the worker."""

from __future__ import annotations

from celery import Celery

from modeltrain.constants import (
    CELERY_QUEUE,
    HARD_LIMIT_GRACE_SECONDS,
    JOB_OVERHEAD_SECONDS,
    TRAIN_TASK_NAME,
)


def time_limits(time_budget: float) -> tuple[int, int]:
    """(soft, hard) Celery time limits in seconds for a job with this model-search budget."""
    soft = int(time_budget) + JOB_OVERHEAD_SECONDS
    return soft, soft + HARD_LIMIT_GRACE_SECONDS


def send_train_task(celery: Celery, job_id: str, time_budget: float) -> None:
    soft, hard = time_limits(time_budget)
    celery.send_task(
        TRAIN_TASK_NAME,
        args=[job_id],
        queue=CELERY_QUEUE,
        soft_time_limit=soft,
        time_limit=hard,
    )
