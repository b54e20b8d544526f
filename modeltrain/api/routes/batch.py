"""Batch prediction jobs: /api/model-inference/batch/... — a CSV uploaded by the training
upload's chunk protocol (the same UploadService: caps, checks, retries), predicted by a worker,
its result CSV streamed from Redis by any replica."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from modeltrain.api.deps import get_services
from modeltrain.api.option_fields import refuse_other_fields
from modeltrain.api.routes.training import SHA256_HEX
from modeltrain.api.services import Services
from modeltrain.constants import JobKind, JobStatus
from modeltrain.exceptions import Conflict, NotFound
from modeltrain.jobs import Job
from modeltrain.uploads.service import ChunkRequest

router = APIRouter(prefix="/api/model-inference/batch", tags=["inference"])
ServicesDep = Annotated[Services, Depends(get_services)]
BATCH_FIELDS = frozenset({"filename", "chunk", "chunkIndex", "totalChunks", "trackingId", "modelId",
                          "probabilities", "chunkSha256", "fileSha256", "callbackUrl"})  # fmt: skip


@router.post(
    "",
    summary="Upload one chunk of a CSV to predict; the last chunk queues the batch job",
    responses={202: {"description": "last chunk stored, batch job queued"}},
)
async def upload_batch_chunk(
    request: Request,
    services: ServicesDep,
    filename: Annotated[str, Form(min_length=1)],
    chunk: Annotated[UploadFile, File()],
    chunkIndex: Annotated[int, Form(ge=0)],
    totalChunks: Annotated[int, Form(ge=1, le=100_000)],
    trackingId: Annotated[str | None, Form(max_length=64)] = None,
    modelId: Annotated[str | None, Form(max_length=1000)] = None,
    probabilities: Annotated[bool, Form()] = False,
    chunkSha256: Annotated[str | None, Form(pattern=SHA256_HEX)] = None,
    fileSha256: Annotated[str | None, Form(pattern=SHA256_HEX)] = None,
    callbackUrl: Annotated[str | None, Form(max_length=4000)] = None,
) -> JSONResponse:
    await refuse_other_fields(request, BATCH_FIELDS)
    chunk_request = ChunkRequest(
        filename=filename,
        data=await chunk.read(),
        chunk_index=chunkIndex,
        total_chunks=totalChunks,
        tracking_id=trackingId or None,
        chunk_sha256=chunkSha256,
        file_sha256=fileSha256,
        callback_url=callbackUrl,
        kind=JobKind.BATCH,
        model_id=modelId,
        probabilities=probabilities,
    )
    reply = await run_in_threadpool(services.uploads.receive, chunk_request)
    return JSONResponse(reply.to_json(), status_code=202 if reply.queued else 200)


async def _batch_job(services: Services, tracking_id: str) -> Job:
    job = await services.job_reader.get(tracking_id)
    if job is None or job.kind != JobKind.BATCH:
        raise NotFound(f"unknown batch job {tracking_id!r}", trackingId=tracking_id)
    return job


@router.get("/{trackingId}", summary="A batch job's status, progress and result summary")
async def batch_status(trackingId: str, services: ServicesDep) -> Response:
    job = await _batch_job(services, trackingId)
    doc = job.status_json or await services.job_reader.status_document(trackingId)
    return Response(doc, media_type="application/json")


@router.get(
    "/{trackingId}/result",
    summary="A completed batch job's predictions as CSV, in the input's row order",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def batch_result(trackingId: str, services: ServicesDep) -> StreamingResponse:
    job = await _batch_job(services, trackingId)
    if job.status == JobStatus.FAILED:
        raise Conflict(f"the batch job failed: {job.error}", trackingId=trackingId, status="failed")
    if job.status != JobStatus.COMPLETED:
        raise Conflict(
            f"the batch job is {job.status.value}; its result is ready once it completes",
            trackingId=trackingId,
            status=job.status.value,
        )
    results = services.batch_results
    if not await run_in_threadpool(results.exists, trackingId):
        raise NotFound(f"the result of batch job {trackingId!r} has expired", trackingId=trackingId)
    name = job.filename.rsplit(".", 1)[0] or "batch"
    return StreamingResponse(
        results.stream(trackingId),  # a sync iterator: Starlette reads it in a thread
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-predictions.csv"'},
    )
