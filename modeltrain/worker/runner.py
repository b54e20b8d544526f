"""run_job(): one training job from staged bytes to a registered model, keeping the job record
current. The Celery task only calls this."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from typing import Any

import requests
from celery.exceptions import SoftTimeLimitExceeded
from mlflow.exceptions import MlflowException

from modeltrain.constants import ClaimOutcome, JobKind, Stage
from modeltrain.exceptions import ModelTrainError
from modeltrain.jobs import Job
from modeltrain.jobs.result import build_result
from modeltrain.logging import fields, job_id_var
from modeltrain.phases import Phases
from modeltrain.pipeline import TrainOptions, train
from modeltrain.pipeline.budget import search_budget
from modeltrain.pipeline.loading import read_csv
from modeltrain.pipeline.train import ProgressFn
from modeltrain.registry import RegisteredModel
from modeltrain.registry.registry import judged
from modeltrain.worker.batch import predict_batch
from modeltrain.worker.context import WorkerContext
from modeltrain.worker.lease import Heartbeat, JobStopped

log = logging.getLogger(__name__)


def new_owner(node: str | None = None) -> str:
    """Who runs this attempt: the Celery node (or host), the process and a random part."""
    return f"{node or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_job(ctx: WorkerContext, job_id: str, node: str | None = None) -> str:
    """Claim and run the job; returns what happened ('completed', 'failed', 'stopped', or why
    the job was not claimed)."""
    token = job_id_var.set(job_id)
    owner = new_owner(node)
    try:
        lease = ctx.settings.lease_seconds
        claim = ctx.store.claim(job_id, owner, lease, ctx.settings.max_attempts)
        if claim != ClaimOutcome.CLAIMED:
            log.info("job.not_claimed", extra=fields(reason=claim))
            return claim
        job = ctx.store.get(job_id)
        if job is None:
            return ClaimOutcome.MISSING
        with Heartbeat(ctx.store, job_id, owner, lease) as heartbeat:
            return _run(ctx, job, heartbeat, owner)
    except SystemExit:  # the pool process was told to stop (SIGTERM): give the job back
        _hand_back(ctx, job_id, owner)
        raise
    finally:
        job_id_var.reset(token)


def _hand_back(ctx: WorkerContext, job_id: str, owner: str) -> None:
    try:
        if ctx.store.hand_back(job_id, owner):
            job = ctx.store.get(job_id)
            budget = job.options.time_budget if job else ctx.settings.default_time_budget
            ctx.requeue(job_id, budget)
            log.warning("job.handed_back")
    except Exception:  # Redis away: the lease lapses and a reaper requeues the job
        log.exception("job.hand_back.failed")


def _fail(ctx: WorkerContext, job_id: str, message: str) -> str:
    ctx.store.fail(job_id, message[:2000])
    log.info("job.failed", extra=fields(error=message[:300]))
    return "failed"


def _run(ctx: WorkerContext, job: Job, heartbeat: Heartbeat, owner: str) -> str:
    """Run the job (train, or predict a batch) and end it completed or failed with a reason;
    'stopped' when it ended elsewhere (cancelled, or taken over)."""
    store, job_id = ctx.store, job.id
    started = time.monotonic()
    batch = job.kind == JobKind.BATCH
    log.info("job.started", extra=fields(filename=job.filename, attempt=job.attempts))
    try:
        report = _reporter(ctx, job_id, heartbeat)
        if batch:
            model_id, result = predict_batch(ctx, job, _read_data(ctx, job), owner, report)
        else:
            registered, result = _train_and_register(ctx, job, heartbeat, report)
            model_id = registered.model_id
        if not store.complete(job_id, result, model_id):
            return "stopped"
        if not batch:
            ctx.duplicates.remember(job_id, job.options)
        seconds = round(time.monotonic() - started, 3)
        log.info("job.completed", extra=fields(model_id=model_id, seconds=seconds))
        return "completed"
    except JobStopped as exc:
        log.info("job.stopped", extra=fields(reason=str(exc)))
        return "stopped"
    except ModelTrainError as exc:
        return _fail(ctx, job_id, exc.message)
    except SoftTimeLimitExceeded:
        return _fail(
            ctx,
            job_id,
            f"the job took too long: it was stopped after its time budget "
            f"({job.options.time_budget:g} s) plus the allowance for loading and logging",
        )
    except (MlflowException, requests.RequestException) as exc:
        detail = getattr(exc, "message", None) or str(exc)
        what = "give the model" if batch else "store the model"
        return _fail(
            ctx,
            job_id,
            f"the MLflow tracking server could not {what} "
            f"({ctx.settings.mlflow_tracking_uri}): {detail}",
        )
    except Exception as exc:  # the job must end with a reason, whatever went wrong
        log.exception("job.failed.unexpected")
        what = "the batch job" if batch else "training"
        return _fail(ctx, job_id, f"{what} failed unexpectedly: {type(exc).__name__}: {exc}")
    finally:
        current = store.get(job_id)
        if current is None or current.status.is_terminal:
            ctx.staging.free_bytes(job_id)


def _read_data(ctx: WorkerContext, job: Job) -> bytes:
    """The job's CSV: its staged upload, or (a retrain) the CSV an earlier run stored."""
    if job.options.source_run_id:
        try:
            return ctx.registry.stored_csv(job.options.source_run_id)
        except (MlflowException, requests.RequestException, OSError) as exc:
            detail = getattr(exc, "message", None) or str(exc)
            raise ModelTrainError(
                f"the data of run {job.options.source_run_id} could not be read back from "
                f"MLflow: {detail}"
            ) from exc
    data = ctx.staging.read(job.id)
    if data is None:
        raise ModelTrainError("the uploaded file is no longer available (it expired)")
    return data


def _reporter(ctx: WorkerContext, job_id: str, heartbeat: Heartbeat) -> ProgressFn:
    """Moves the job on; raises JobStopped once it was cancelled or taken over."""

    def report(
        stage: Stage,
        pct: int | None = None,
        best_score: float | None = None,
        eta_seconds: float | None = None,
    ) -> None:
        heartbeat.check()
        moved = ctx.store.progress(
            job_id, stage, pct, best_score=best_score, eta_seconds=eta_seconds
        )
        if not moved:
            raise JobStopped("the job was cancelled")

    return report


def _train_and_register(
    ctx: WorkerContext, job: Job, heartbeat: Heartbeat, report: ProgressFn
) -> tuple[RegisteredModel, dict[str, Any]]:
    """Staged bytes -> trained pipeline -> logged, registered, verified version and `result`."""
    job_id = job.id
    phases = Phases()
    data = _read_data(ctx, job)
    df = read_csv(data, encoding=job.options.encoding, delimiter=job.options.delimiter)
    phases.mark("read")
    options = TrainOptions(
        **job.options.pipeline_options(),
        time_budget=search_budget(job.options.time_budget, len(data), phases.seconds["read"]),
        threads=ctx.settings.train_threads,
        should_stop=lambda: heartbeat.stopped.is_set() or heartbeat.finish.is_set(),
    )
    trained = train(df, options, report)
    phases.mark("train")
    report(Stage.LOGGING)
    if job.attempts > 1:
        ctx.registry.fail_open_runs(job_id)
    registered = ctx.registry.log_and_register(
        trained,
        model_name=job.options.model_name,
        job_id=job_id,
        filename=job.filename,
        data=df,
        raw_csv=data,
        on_stage=lambda _: report(Stage.REGISTERING),
    )
    phases.mark("log")
    expected = trained.pipeline.predict(trained.input_example)
    ctx.registry.verify(registered, trained.input_example, expected)
    phases.mark("verify")
    champion = ctx.registry.promote_if_better(registered, judged(trained))
    phases.mark("promote")
    try:  # API processes load the version now, before clients hear of it
        ctx.announce(registered.name, registered.version)
    except Exception:  # not fatal: the first prediction loads it
        log.warning("job.announce.failed", exc_info=True)
    phases.mark("announce")
    log.info("job.phases", extra=fields(seconds=phases.seconds, train=trained.phases))
    return registered, build_result(trained, registered, champion)
