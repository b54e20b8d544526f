"""The Celery app ``celery-app``: ``celery -A modeltrain.worker.app worker``.

The app object is made at import (Celery needs a module attribute; making it does not connect).
Clients are made per worker process after fork, in ``worker_process_init``; the reaper and the
webhook sender run in the main process from ``worker_ready``.
"""

from __future__ import annotations

import logging

from celery.signals import setup_logging, worker_process_init, worker_ready, worker_shutdown

from modeltrain.config import get_settings
from modeltrain.connections import create_celery_app
from modeltrain.constants import REAPS_PER_LEASE, TRAIN_TASK_NAME
from modeltrain.logging import configure_logging
from modeltrain.worker.callbacks import CallbackSender
from modeltrain.worker.context import WorkerContext
from modeltrain.worker.dispatch import send_train_task
from modeltrain.worker.reaper import Reaper
from modeltrain.worker.runner import run_job
from modeltrain.worker.warmup import WarmUp

log = logging.getLogger(__name__)

settings = get_settings()
celery_app = create_celery_app(settings)
app = celery_app  # `celery -A modeltrain.worker.app` finds `app`

_context: WorkerContext | None = None
_warm_up: WarmUp | None = None
_reaper: Reaper | None = None
_callbacks: CallbackSender | None = None


@setup_logging.connect
def _setup_logging(**_: object) -> None:
    configure_logging(settings.log_level, settings.log_format)


@worker_process_init.connect
def _init_process(**_: object) -> None:
    _get_context()
    log.info("worker.process.ready")


def _create_context() -> WorkerContext:
    return WorkerContext.create(
        settings, requeue=lambda job_id, budget: send_train_task(celery_app, job_id, budget)
    )


@worker_ready.connect
def _start_main_process_threads(**_: object) -> None:
    """The reaper and the webhook sender, in the worker's main process."""
    global _reaper, _callbacks
    ctx = _create_context()
    _reaper = Reaper(
        ctx.store,
        ctx.requeue,
        ctx.registry,
        interval=max(1.0, settings.lease_seconds / REAPS_PER_LEASE),
    )
    _reaper.start()
    _callbacks = CallbackSender(ctx.store, settings)
    _callbacks.start()


@worker_shutdown.connect
def _stop_main_process_threads(**_: object) -> None:
    if _reaper is not None:
        _reaper.stop()
    if _callbacks is not None:
        _callbacks.stop()


def _get_context() -> WorkerContext:
    """The process's context, made once (solo/threads pools send no worker_process_init),
    with its warm-up started."""
    global _context, _warm_up
    if _context is None:
        _context = _create_context()
        _warm_up = WarmUp(_context)
    return _context


@celery_app.task(name=TRAIN_TASK_NAME, bind=True)
def train_job(self, job_id: str) -> str:
    ctx = _get_context()
    if _warm_up is not None:
        _warm_up.wait()  # before the job is claimed: never both at once
    return run_job(ctx, job_id, node=self.request.hostname)
