"""run_job(): one training job from staged bytes to a registered model, keeping the job record
current. The Celery task only calls this."""

from __future__ import annotations

import logging
import time
from typing import Any

from modeltrain.constants import Stage
from modeltrain.exceptions import ModelTrainError
from modeltrain.logging import fields, job_id_var
from modeltrain.pipeline import TrainedModel, TrainOptions, train
from modeltrain.pipeline.loading import read_csv
from modeltrain.registry import RegisteredModel
from modeltrain.worker.context import WorkerContext

log = logging.getLogger(__name__)


def build_result(trained: TrainedModel, registered: RegisteredModel) -> dict[str, Any]:
    return {
        "task": trained.task.value,
        "target": trained.target,
        "rows": trained.rows,
        "columns": trained.columns,
        "features": trained.features,
        "droppedColumns": trained.dropped_columns,
        "metrics": trained.metrics,
        "primaryMetric": trained.primary_metric,
        "estimator": trained.estimator,
        "leaderboard": trained.leaderboard,
        "classes": trained.classes,
        "trainSeconds": round(trained.train_seconds, 3),
        "runId": registered.run_id,
        "modelName": registered.name,
        "modelVersion": registered.version,
    }


def run_job(ctx: WorkerContext, job_id: str) -> None:
    token = job_id_var.set(job_id)
    try:
        _run(ctx, job_id)
    finally:
        job_id_var.reset(token)


def _run(ctx: WorkerContext, job_id: str) -> None:
    store, staging = ctx.store, ctx.staging
    job = store.get(job_id)
    if job is None or job.status.is_terminal:
        log.info("job.skipped", extra=fields(reason="missing or finished"))
        return
    if not store.start(job_id):
        return
    started = time.monotonic()
    log.info("job.started", extra=fields(filename=job.filename))
    try:
        data = staging.read(job_id)
        if data is None:
            raise ModelTrainError("the uploaded file is no longer available (it expired)")
        df = read_csv(data, encoding=job.options.encoding, delimiter=job.options.delimiter)
        options = TrainOptions(
            target=job.options.target,
            task=job.options.task,
            time_budget=job.options.time_budget,
            threads=ctx.settings.train_threads,
        )
        trained = train(df, options, lambda stage, pct: store.progress(job_id, stage, pct))
        store.progress(job_id, Stage.LOGGING)
        registered = ctx.registry.log_and_register(
            trained,
            model_name=job.options.model_name,
            job_id=job_id,
            filename=job.filename,
            data=df,
            raw_csv=data,
            on_stage=lambda _: store.progress(job_id, Stage.REGISTERING),
        )
        store.complete(job_id, build_result(trained, registered), registered.model_id)
        log.info(
            "job.completed",
            extra=fields(
                model_id=registered.model_id, seconds=round(time.monotonic() - started, 3)
            ),
        )
    except ModelTrainError as exc:
        store.fail(job_id, exc.message)
        log.info("job.failed", extra=fields(error=exc.message))
    except Exception as exc:  # the job must end with a reason, whatever went wrong
        message = f"training failed unexpectedly: {type(exc).__name__}: {exc}"
        store.fail(job_id, message[:2000])
        log.exception("job.failed.unexpected")
    finally:
        staging.free_bytes(job_id)
