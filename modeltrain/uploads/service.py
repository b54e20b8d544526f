"""UploadService: takes one chunk of an upload, stages it, checks the CSV as soon as it can, and
queues the job when the last chunk lands. Framework-free; the API route only maps fields."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from modeltrain.config import Settings
from modeltrain.constants import CSV_SNIFF_BYTES, MAX_FILENAME_CHARS, JobKind, JobStatus, Stage
from modeltrain.exceptions import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
)
from modeltrain.jobs import Job, JobOptions, JobStore
from modeltrain.jobs.duplicates import DuplicateIndex
from modeltrain.jobs.options import build_options, check_callback_url
from modeltrain.jobs.queueing import Enqueue, queue_job
from modeltrain.jobs.store import new_job_id
from modeltrain.logging import fields
from modeltrain.training_options import check_columns
from modeltrain.uploads.csv_format import inspect_head
from modeltrain.uploads.staging import ChunkOutcome, ChunkResult, UploadStaging

log = logging.getLogger(__name__)

# Control characters and bidirectional overrides are removed from display names.
RETRY_AFTER_SECONDS = 5  # suggested wait when too many uploads are in flight
_UNSAFE_DISPLAY = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def display_filename(raw: str) -> str:
    cleaned = _UNSAFE_DISPLAY.sub("", raw or "").strip()
    return cleaned[:MAX_FILENAME_CHARS] or "upload.csv"


@dataclass(frozen=True)
class ChunkRequest:
    filename: str
    data: bytes
    chunk_index: int
    total_chunks: int
    tracking_id: str | None = None
    # chunk 0 of a training upload: the option fields as sent (training_options.py)
    options: dict[str, Any] = field(default_factory=dict)
    chunk_sha256: str | None = None
    file_sha256: str | None = None  # chunk 0: of the whole file, for the duplicate short-cut
    force: bool = False  # chunk 0: train even when the same bytes and options were trained
    callback_url: str | None = None  # chunk 0: called when the job ends (a webhook)
    kind: JobKind = JobKind.TRAIN  # what the job does with the file
    model_id: str | None = None  # chunk 0 of a batch job: the model that predicts its rows
    probabilities: bool = False  # chunk 0 of a batch job: add class probabilities


@dataclass(frozen=True)
class ChunkReply:
    tracking_id: str
    chunk_index: int
    received_chunks: int
    total_chunks: int
    received_bytes: int
    queued: bool
    status: str | None = None
    duplicate_of: str | None = None  # the completed job with the same bytes and options
    model_id: str | None = None  # that job's model

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "trackingId": self.tracking_id,
            "chunkIndex": self.chunk_index,
            "receivedChunks": self.received_chunks,
            "totalChunks": self.total_chunks,
            "receivedBytes": self.received_bytes,
        }
        if self.queued or self.duplicate_of:
            body["status"] = self.status
        if self.duplicate_of:
            body["duplicateOf"] = self.duplicate_of
            body["modelId"] = self.model_id
        return body


class UploadService:
    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        staging: UploadStaging,
        enqueue: Enqueue,
        duplicates: DuplicateIndex,
        model_exists: Callable[[str], bool] = lambda _: True,
        check_model: Callable[[str], str] = lambda model_id: model_id,
    ) -> None:
        self._settings = settings
        self._store = store
        self._staging = staging
        self._enqueue = enqueue
        self._duplicates = duplicates
        self._model_exists = model_exists  # (modelId): a duplicate's model is still registered
        # (modelId) -> the same, checked: 422 malformed, 404 unknown (a batch job's model)
        self._check_model = check_model

    def receive(self, req: ChunkRequest) -> ChunkReply:
        if req.chunk_sha256 is not None:
            digest = hashlib.sha256(req.data).hexdigest()
            if digest != req.chunk_sha256.strip().lower():
                raise InvalidInput(
                    f"chunkSha256 does not match the chunk's bytes (they hash to {digest}); "
                    "the chunk was not stored",
                    field="chunkSha256",
                    trackingId=req.tracking_id,
                )
        if req.tracking_id is None:
            if req.chunk_index != 0:
                raise InvalidInput(
                    "trackingId is required for every chunk but the first", field="trackingId"
                )
            options = self._options(req)
            callback_url = check_callback_url(self._settings, req.callback_url)
            duplicate = self._duplicate_of(options)
            if duplicate is not None:  # nothing to upload: that job has the model already
                return _duplicate_reply(duplicate, duplicate, req)
            job = self._begin(req, options, callback_url)
        else:
            found = self._store.get(req.tracking_id)
            if found is None:
                raise NotFound(
                    f"unknown trackingId {req.tracking_id!r} (never started, or expired)",
                    trackingId=req.tracking_id,
                )
            if found.kind != req.kind:  # a training upload's id sent as a batch's, or back
                raise NotFound(
                    f"trackingId {req.tracking_id!r} is not a {req.kind.value} job's upload",
                    trackingId=req.tracking_id,
                )
            job = found
        result = self._staging.append(job.id, req.chunk_index, req.total_chunks, req.data)
        self._refuse_unless_accepted(job, req, result)
        if result.outcome == ChunkOutcome.STORED:
            self._store.touch_upload(job.id, self._settings.upload_ttl_seconds)
            job = self._check_head(job, result)
        queued = False
        if result.complete:
            job, duplicate = self._queue_once(job)
            if duplicate is not None:
                return _duplicate_reply(job, duplicate, req, result)
            queued = True
        return ChunkReply(
            tracking_id=job.id,
            chunk_index=req.chunk_index,
            received_chunks=result.received_chunks,
            total_chunks=result.total_chunks,
            received_bytes=result.received_bytes,
            queued=queued,
            status=job.status.value,
        )

    # --- steps ---------------------------------------------------------------------------
    def _begin(self, req: ChunkRequest, options: JobOptions, callback_url: str | None) -> Job:
        job_id = new_job_id()
        if not self._staging.begin(job_id, req.total_chunks):
            raise TooManyRequests(
                f"too many uploads in progress (at most {self._settings.max_uploads_in_flight}); "
                "try again shortly",
                retry_after=RETRY_AFTER_SECONDS,
            )
        job = self._store.create(
            display_filename(req.filename),
            options,
            self._settings.upload_ttl_seconds,
            job_id=job_id,
            callback_url=callback_url,
            kind=req.kind,
        )
        log.info(
            "upload.started",
            extra=fields(job_id=job.id, total_chunks=req.total_chunks, kind=req.kind),
        )
        return job

    def _options(self, req: ChunkRequest) -> JobOptions:
        if req.kind == JobKind.BATCH:
            if not req.model_id or not req.model_id.strip():
                raise InvalidInput("modelId is required on chunk 0 of a batch", field="modelId")
            model_id = self._check_model(req.model_id.strip())
            return JobOptions(model_id=model_id, probabilities=req.probabilities)
        options = build_options(self._settings, req.options, display_filename(req.filename))
        claimed = req.file_sha256.strip().lower() if req.file_sha256 else None
        return replace(options, file_sha256=claimed, force=req.force)

    def _duplicate_of(self, options: JobOptions) -> Job | None:
        if options.force or options.model_id is not None:  # a batch job always runs
            return None
        return self._duplicates.find(options, self._model_exists)

    def _refuse_unless_accepted(self, job: Job, req: ChunkRequest, result: ChunkResult) -> None:
        tid = job.id
        match result.outcome:
            case ChunkOutcome.STORED | ChunkOutcome.DUPLICATE:
                return
            case ChunkOutcome.MISSING:
                raise NotFound(f"the upload {tid} has expired or was discarded", trackingId=tid)
            case ChunkOutcome.TOTAL_MISMATCH:
                raise InvalidInput(
                    f"totalChunks changed: this upload has {result.total_chunks} chunks",
                    field="totalChunks",
                    trackingId=tid,
                )
            case ChunkOutcome.INDEX_OUT_OF_RANGE:
                raise Conflict(
                    f"chunkIndex {req.chunk_index} is past the last chunk "
                    f"({result.total_chunks - 1})",
                    trackingId=tid,
                    expectedChunkIndex=_expected(result),
                )
            case ChunkOutcome.OUT_OF_ORDER:
                raise Conflict(
                    f"chunks must come in order: expected chunk {result.received_chunks}, "
                    f"got {req.chunk_index}",
                    trackingId=tid,
                    expectedChunkIndex=result.received_chunks,
                )
            case ChunkOutcome.CONFLICT:
                raise Conflict(
                    f"chunk {req.chunk_index} was already received with other bytes",
                    trackingId=tid,
                    expectedChunkIndex=_expected(result),
                )
            case ChunkOutcome.TOO_LARGE:
                message = (
                    f"the upload is larger than the limit of {self._settings.max_upload_bytes} "
                    "bytes; it was discarded"
                )
                self._staging.discard(tid)
                self._store.fail(tid, message)
                raise PayloadTooLarge(message, trackingId=tid)

    def _check_head(self, job: Job, result: ChunkResult) -> Job:
        """Check the CSV header once enough of it has arrived; remember encoding/delimiter."""
        if job.options.encoding is not None:
            return job
        head = self._staging.head(job.id, CSV_SNIFF_BYTES)
        whole_file = result.complete and result.received_bytes <= len(head)
        try:
            fmt = inspect_head(
                head,
                complete=whole_file,
                target=job.options.target,
                header_cap=CSV_SNIFF_BYTES,
                min_columns=1 if job.kind == JobKind.BATCH else 2,
            )
            if fmt is not None and job.kind == JobKind.TRAIN:
                check_columns(job.options, fmt.columns)
        except InvalidInput as exc:  # the file, or a column option the header lacks
            self._staging.discard(job.id)
            self._store.fail(job.id, exc.message)
            raise type(exc)(exc.message, **{**exc.extra, "trackingId": job.id}) from None
        if fmt is None:
            return job
        options = replace(job.options, encoding=fmt.encoding, delimiter=fmt.delimiter)
        self._store.update(job.id, options=options)
        return replace(job, options=options)

    def _queue_once(self, job: Job) -> tuple[Job, Job | None]:
        """Queue the job unless an earlier request for the last chunk already did; or, when a
        completed job had the same bytes and options, complete it at once as that job's
        duplicate (then the second value is that job)."""
        current = self._store.get(job.id) or job
        if current.stage != Stage.UPLOADING:
            return current, None
        options = self._hashed(job)
        duplicate = self._duplicate_of(options)
        if duplicate is not None and self._store.complete_as_duplicate(job.id, duplicate, options):
            self._staging.discard(job.id)
            log.info("upload.duplicate", extra=fields(job_id=job.id, duplicate_of=duplicate.id))
            return self._store.get(job.id) or current, duplicate
        self._staging.keep(job.id, self._settings.job_retention_seconds)
        self._staging.finished(job.id)
        if not queue_job(self._store, self._enqueue, job.id, options):
            return self._store.get(job.id) or current, None
        log.info("upload.completed", extra=fields(job_id=job.id))
        # As this request left it: a worker may already have claimed it since.
        return replace(current, stage=Stage.QUEUED), None

    def _hashed(self, job: Job) -> JobOptions:
        """The job's options with the SHA-256 of all its bytes; a client's fileSha256 that
        differs refuses the upload (422) and fails the job."""
        digest = self._staging.digest(job.id)
        claimed = job.options.file_sha256
        if digest is None:
            raise NotFound(f"the upload {job.id} has expired or was discarded", trackingId=job.id)
        if claimed and claimed != digest:
            message = (
                f"fileSha256 does not match the uploaded bytes (they hash to {digest}); the "
                "upload was discarded"
            )
            self._staging.discard(job.id)
            self._store.fail(job.id, message)
            raise InvalidInput(message, field="fileSha256", trackingId=job.id)
        return replace(job.options, file_sha256=digest)


def _duplicate_reply(
    job: Job, duplicate: Job, req: ChunkRequest, result: ChunkResult | None = None
) -> ChunkReply:
    return ChunkReply(
        tracking_id=job.id,
        chunk_index=req.chunk_index,
        received_chunks=result.received_chunks if result else 0,
        total_chunks=req.total_chunks,
        received_bytes=result.received_bytes if result else 0,
        queued=False,
        status=JobStatus.COMPLETED.value,
        duplicate_of=duplicate.id,
        model_id=duplicate.model_id,
    )


def _expected(result: ChunkResult) -> int | None:
    return result.received_chunks if result.received_chunks < result.total_chunks else None
