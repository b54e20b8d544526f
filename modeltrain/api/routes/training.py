"""Uploads and job status: /api/model-train/..."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from modeltrain.api.deps import get_services
from modeltrain.api.option_fields import RetrainBody, option_fields
from modeltrain.api.plain_routes import install_ahead
from modeltrain.api.services import Services
from modeltrain.constants import (
    DEFAULT_LIST_LIMIT,
    EVENTS_KEEPALIVE_SECONDS,
    EVENTS_POLL_SECONDS,
    MAX_LIST_LIMIT,
    JobStatus,
)
from modeltrain.exceptions import NotFound
from modeltrain.jobs.retrain import RetrainRequest
from modeltrain.uploads.service import ChunkRequest

router = APIRouter(prefix="/api/model-train", tags=["training"])
ServicesDep = Annotated[Services, Depends(get_services)]
SHA256_HEX = r"^\s*[0-9a-fA-F]{64}\s*$"
# An upload's own fields, beside the training options (training_options.py).
UPLOAD_FIELDS = frozenset({"filename", "chunk", "chunkIndex", "totalChunks", "trackingId",
                           "chunkSha256", "fileSha256", "force", "callbackUrl"})  # fmt: skip


@router.post(
    "/start",
    summary="Upload one chunk of a CSV; the last chunk queues the training job",
    responses={202: {"description": "last chunk stored, job queued"}},
)
async def upload_chunk(
    request: Request,
    services: ServicesDep,
    filename: Annotated[str, Form(min_length=1)],
    chunk: Annotated[UploadFile, File()],
    chunkIndex: Annotated[int, Form(ge=0)],  # the contract's field names
    totalChunks: Annotated[int, Form(ge=1, le=100_000)],
    trackingId: Annotated[str | None, Form(max_length=64)] = None,
    chunkSha256: Annotated[str | None, Form(pattern=SHA256_HEX)] = None,
    fileSha256: Annotated[str | None, Form(pattern=SHA256_HEX)] = None,
    force: Annotated[bool, Form()] = False,
    callbackUrl: Annotated[str | None, Form(max_length=4000)] = None,
) -> JSONResponse:
    """The training options (training_options.py) come as form fields of their own names,
    described in the operation's schema; any other field is refused naming it."""
    options = await option_fields(request, UPLOAD_FIELDS)
    data = await chunk.read()
    chunk_request = ChunkRequest(
        filename=filename,
        data=data,
        chunk_index=chunkIndex,
        total_chunks=totalChunks,
        tracking_id=trackingId or None,
        options=options,
        chunk_sha256=chunkSha256,
        file_sha256=fileSha256,
        force=force,
        callback_url=callbackUrl,
    )
    reply = await run_in_threadpool(services.uploads.receive, chunk_request)
    return JSONResponse(reply.to_json(), status_code=202 if reply.queued else 200)


STATUS_PATH = "/api/model-train/status/{trackingId}"


STATUS_OPERATION = {
    "tags": ["training"],
    "summary": "One job's status, progress and result",
    "operationId": "job_status",
    "parameters": [
        {"name": "trackingId", "in": "path", "required": True, "schema": {"type": "string"}}
    ],
}


async def job_status(request: Request) -> Response:
    """The hottest route: clients poll it. See install_fast_status_route."""
    tracking_id = request.path_params["trackingId"]
    doc = await request.app.state.services.job_reader.status_document(tracking_id)
    if doc is None:
        raise NotFound(f"unknown trackingId {tracking_id!r}", trackingId=tracking_id)
    return Response(doc, media_type="application/json")


def install_fast_status_route(app: FastAPI) -> None:
    """Status polls skip FastAPI's router (see api/plain_routes.py)."""
    install_ahead(app, STATUS_PATH, job_status, "GET", STATUS_OPERATION)


@router.get(
    "/events/{trackingId}",
    summary="Server-sent events: the job's status document whenever it changes, until it ends",
    response_class=StreamingResponse,
)
async def job_events(trackingId: str, request: Request, services: ServicesDep) -> Response:
    if await services.job_reader.status_document(trackingId) is None:
        raise NotFound(f"unknown trackingId {trackingId!r}", trackingId=trackingId)

    async def stream() -> AsyncIterator[bytes]:
        last = None
        quiet = 0.0
        while not await request.is_disconnected():
            doc = await services.job_reader.status_document(trackingId)
            if doc is None:
                yield b"event: gone\ndata: {}\n\n"
                return
            if doc != last:
                last, quiet = doc, 0.0
                yield b"event: status\ndata: " + doc + b"\n\n"
            elif quiet >= EVENTS_KEEPALIVE_SECONDS:
                quiet = 0.0
                yield b": keep-alive\n\n"
            if JobStatus(orjson.loads(doc)["status"]).is_terminal:
                return
            await asyncio.sleep(EVENTS_POLL_SECONDS)
            quiet += EVENTS_POLL_SECONDS

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{trackingId}/plots/{name}",
    summary="A PNG plot of a completed job's run, fetched from MLflow",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def job_plot(trackingId: str, name: str, services: ServicesDep) -> Response:
    job = await services.job_reader.get(trackingId)
    if job is None:
        raise NotFound(f"unknown trackingId {trackingId!r}", trackingId=trackingId)
    plots = (job.result or {}).get("plots") or []
    if name not in plots:
        raise NotFound(f"job {trackingId} has no plot {name!r}; it has: {', '.join(plots)}")
    run_id = (job.result or {})["runId"]
    png = await run_in_threadpool(services.registry.plot_png, run_id, name)
    return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@router.get("/status", summary="All known jobs, newest first")
def list_jobs(
    services: ServicesDep,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
) -> JSONResponse:
    return JSONResponse([job.to_summary() for job in services.job_store.list(status, limit)])


@router.post("/{trackingId}/cancel", summary="Cancel a job that has not finished")
def cancel_job(trackingId: str, services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.controls.cancel(trackingId).to_status())


@router.delete(
    "/{trackingId}",
    summary="Forget a finished job (its record and any staged bytes); its model stays",
)
def forget_job(trackingId: str, services: ServicesDep) -> JSONResponse:
    services.controls.forget(trackingId)
    return JSONResponse({"trackingId": trackingId, "forgotten": True})


@router.post(
    "/{trackingId}/retrain",
    status_code=202,
    summary="Train again on a completed job's data (read back from MLflow), with other options",
)
def retrain_job(
    trackingId: str,
    services: ServicesDep,
    body: RetrainBody | None = None,  # type: ignore[valid-type]
) -> JSONResponse:
    given: dict[str, Any] = body.model_dump(exclude_unset=True) if body is not None else {}
    callback_url = given.pop("callbackUrl", None)
    request = RetrainRequest(options=given, callback_url=callback_url)
    job = services.retrainer.retrain(trackingId, request)
    return JSONResponse(
        {"trackingId": job.id, "retrainOf": trackingId, "status": job.status.value},
        status_code=202,
    )


@router.post(
    "/{trackingId}/finish",
    summary="End a running job's model search now; it completes with the best model so far",
)
def finish_job(trackingId: str, services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.controls.finish(trackingId).to_status())
