"""predict_batch(): a batch job's rows predicted block by block with a registered model, the
result CSV stored for every API replica (batch/results.py), and the job's ``result``. The job
runner (runner.py) calls it for jobs of kind ``batch``, with the same claim, lease, heartbeat
and ending as a training job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from modeltrain.batch.scoring import score_blocks
from modeltrain.constants import BATCH_BLOCK_ROWS, STAGE_PROGRESS, Stage
from modeltrain.exceptions import ModelTrainError, NotFound
from modeltrain.jobs import Job
from modeltrain.logging import fields
from modeltrain.pipeline.loading import read_csv
from modeltrain.registry import parse_model_id
from modeltrain.worker.context import WorkerContext

log = logging.getLogger(__name__)

Report = Callable[[Stage, int | None], None]  # (stage, progress): raises JobStopped when told


def result_path(job_id: str) -> str:
    return f"/api/model-inference/batch/{job_id}/result"


def predict_batch(
    ctx: WorkerContext, job: Job, data: bytes, owner: str, report: Report
) -> tuple[str, dict[str, Any]]:
    """Returns (the modelId of the version that predicted, the job's result)."""
    started = time.monotonic()
    assert job.options.model_id is not None, "a batch job names its model"
    frame = read_csv(data, encoding=job.options.encoding, delimiter=job.options.delimiter)
    try:
        model = ctx.models.get(parse_model_id(job.options.model_id))
    except NotFound as exc:
        raise ModelTrainError(f"the model cannot be used: {exc.message}") from None
    if not ctx.registry.version_exists(model.model_id):  # loaded here before it was deleted
        ctx.models.evict(model.name, model.version)
        raise ModelTrainError(f"the model cannot be used: {model.model_id} was deleted")
    report(Stage.PREDICTING, None)
    draft = ctx.results.begin(job.id, owner)
    first, span = STAGE_PROGRESS[Stage.PREDICTING], 95 - STAGE_PROGRESS[Stage.PREDICTING]
    rows, blocks, compiled = len(frame), 0, 0
    try:
        for block in score_blocks(
            model, frame, job.options.probabilities, BATCH_BLOCK_ROWS, ctx.compiled.view
        ):
            ctx.results.append(draft, block.csv)
            if model.profile is not None and ctx.settings.drift_counting:
                ctx.drift.counter(model.name, model.version, model.profile).record(block.inputs)
                ctx.drift.flush()
            blocks += 1
            compiled += block.compiled
            report(Stage.PREDICTING, first + span * block.done // rows)
        if not ctx.registry.version_exists(model.model_id):
            raise ModelTrainError(f"{model.model_id} was deleted while the batch job ran")
        ctx.results.publish(job.id, draft)
    except BaseException:
        ctx.results.discard(draft)
        raise
    seconds = time.monotonic() - started
    log.info("batch.predicted", extra=fields(rows=rows, seconds=round(seconds, 3)))
    result = {
        "kind": "batch",
        "modelId": model.model_id,
        "rows": rows,
        "columns": [name for name, _, _ in model.columns],
        "probabilities": job.options.probabilities,
        "classes": model.classes if job.options.probabilities else None,
        "blocks": blocks,
        "compiledBlocks": compiled,  # blocks predicted by the compiled trees (batch/compiled.py)
        "seconds": round(seconds, 3),
        "rowsPerSecond": round(rows / seconds, 1) if seconds > 0 else None,
        "resultUrl": result_path(job.id),
    }
    return model.model_id, result
