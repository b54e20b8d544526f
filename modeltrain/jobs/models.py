"""The job record: its fields in Redis (``Field``, each name spelled once), the status document
made from them (``STATUS_DOCUMENT``), and the ``Job`` the service code works with.

The Lua scripts that change a record also render its status document from the same table
(scripts.py) and keep it in the record, so a status poll is one ``HGET``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

import orjson

from modeltrain import training_options
from modeltrain.constants import JobKind, JobStatus, Stage, Task


class Field(StrEnum):
    """The job record's fields (a Redis hash)."""

    STATUS = "status"
    KIND = "kind"  # JobKind: train or batch (absent in records from before batch jobs: train)
    STAGE = "stage"
    PROGRESS = "progress"
    FILENAME = "filename"
    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"
    OPTIONS = "options"  # JobOptions as JSON
    RESULT = "result"  # a completed job's result document (jobs/result.py) as JSON
    ERROR = "error"
    MODEL_ID = "modelId"
    ATTEMPTS = "attempts"  # how many times a worker claimed the job
    WORKER = "worker"  # who runs (or ran) the latest attempt: "<node>:<pid>:<random>"
    BEST_SCORE = "bestScore"  # primary metric of the best candidate so far
    ETA_SECONDS = "etaSeconds"  # model-search time left when last reported
    FINISH_REQUESTED = "finishRequested"  # '1': end the model search early (read by HEARTBEAT)
    RETRAIN_OF = "retrainOf"  # the job whose stored data this job trains on again
    DUPLICATE_OF = "duplicateOf"  # the completed job with the same bytes and options
    CALLBACK_URL = "callbackUrl"  # called when the job ends (worker/callbacks.py)
    CALLBACKS = "callbacks"  # JSON list: each call of callbackUrl and how it went
    STATUS_JSON = "statusJson"  # the rendered status document, kept current by the scripts


class Kind(Enum):
    """How a field's stored text becomes JSON; an empty or absent field is ``null``."""

    TEXT = "text"  # a JSON string
    NUMBER = "number"  # the text as is (the store writes only finite numbers)
    JSON = "json"  # the text as is (the store writes it with orjson)


# The body of ``GET /api/model-train/status/{id}``, after ``"trackingId"``: key, field, kind.
STATUS_DOCUMENT: tuple[tuple[str, Field, Kind], ...] = (
    ("status", Field.STATUS, Kind.TEXT),
    ("kind", Field.KIND, Kind.TEXT),
    ("progress", Field.PROGRESS, Kind.NUMBER),
    ("stage", Field.STAGE, Kind.TEXT),
    ("result", Field.RESULT, Kind.JSON),
    ("error", Field.ERROR, Kind.TEXT),
    ("modelId", Field.MODEL_ID, Kind.TEXT),
    ("filename", Field.FILENAME, Kind.TEXT),
    ("createdAt", Field.CREATED_AT, Kind.TEXT),
    ("updatedAt", Field.UPDATED_AT, Kind.TEXT),
    ("attempts", Field.ATTEMPTS, Kind.NUMBER),
    ("bestScore", Field.BEST_SCORE, Kind.NUMBER),
    ("eta", Field.ETA_SECONDS, Kind.NUMBER),
    ("worker", Field.WORKER, Kind.TEXT),
    ("options", Field.OPTIONS, Kind.JSON),
    ("retrainOf", Field.RETRAIN_OF, Kind.TEXT),
    ("duplicateOf", Field.DUPLICATE_OF, Kind.TEXT),
    ("callbacks", Field.CALLBACKS, Kind.JSON),
)


def number_text(value: float | None) -> str:
    """A number as the record stores it: '' (null) for None and for values JSON cannot hold."""
    if value is None or not math.isfinite(value):
        return ""
    return repr(int(value)) if isinstance(value, int) else repr(float(value))


@dataclass(frozen=True)
class JobOptions:
    """What the client asked for on chunk 0, plus what the upload check found."""

    target: str | None = None
    task: Task = Task.AUTO
    model_name: str = "model"
    time_budget: float = 60.0
    families: tuple[str, ...] | None = None  # the model families to search; None: all
    exclude_columns: tuple[str, ...] | None = None  # never features
    metric: str | None = None  # modeltrain.metrics; None: the task's default
    positive_class: str | None = None  # the class binary metrics are about; None: the rarer
    weight_column: str | None = None
    time_column: str | None = None
    group_column: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    # The data when it is not an upload: the CSV stored with this MLflow run (a retrain).
    source_run_id: str | None = None
    file_sha256: str | None = None  # of the uploaded bytes, hashed when the last chunk landed
    force: bool = False  # train even when a completed job had the same bytes and options
    # A batch job: the model that predicts its rows, and whether to add class probabilities.
    model_id: str | None = None
    probabilities: bool = False

    def duplicate_key(self) -> str:
        """What two jobs on the same bytes must share to be duplicates: every training option
        (training_options.TRAINING; one added later only when it is set)."""
        key: list[Any] = [self.file_sha256]
        for option in training_options.TRAINING:
            value = getattr(self, option.attr)
            if option.always_in_key or value != getattr(_DEFAULTS, option.attr):
                key.append(option.dump(value))
        return orjson.dumps(key).decode()

    def to_json(self) -> str:
        """Stored in the record and shown as the status document's ``options``."""
        if self.model_id is not None:  # a batch job: what it predicts with
            return orjson.dumps(
                {
                    "modelId": self.model_id,
                    "probabilities": self.probabilities,
                    "encoding": self.encoding,
                    "delimiter": self.delimiter,
                    "fileSha256": self.file_sha256,
                }
            ).decode()
        given = {o.field: o.dump(getattr(self, o.attr)) for o in training_options.TRAINING}
        return orjson.dumps(
            {
                **given,
                "encoding": self.encoding,
                "delimiter": self.delimiter,
                "sourceRunId": self.source_run_id,
                "fileSha256": self.file_sha256,
                "force": self.force,
            }
        ).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobOptions:
        data = orjson.loads(raw)
        given = {}
        for option in training_options.TRAINING:
            # records written before the wire names were used: snake_case keys
            value = data.get(option.field, data.get(option.attr))
            if value is not None:
                given[option.attr] = option.load(value)
        return cls(
            **given,
            encoding=data.get("encoding"),
            delimiter=data.get("delimiter"),
            source_run_id=data.get("sourceRunId"),
            file_sha256=data.get("fileSha256"),
            force=bool(data.get("force", False)),
            model_id=data.get("modelId"),
            probabilities=bool(data.get("probabilities", False)),
        )

    def pipeline_options(self) -> dict[str, Any]:
        """The options the training pipeline takes as they are (TrainOptions' names)."""
        return {o.pipeline: getattr(self, o.attr) for o in training_options.TRAINING if o.pipeline}


_DEFAULTS = JobOptions()


@dataclass
class Job:
    id: str
    status: JobStatus
    stage: Stage
    progress: int
    filename: str
    created_at: str
    updated_at: str
    options: JobOptions
    result: dict[str, Any] | None = None
    error: str | None = None
    model_id: str | None = None
    attempts: int = 0
    worker: str | None = None
    best_score: float | None = None
    eta_seconds: float | None = None
    retrain_of: str | None = None
    duplicate_of: str | None = None
    callback_url: str | None = None
    callbacks: list[dict[str, Any]] | None = None
    kind: JobKind = JobKind.TRAIN
    status_json: bytes | None = None  # the status document, as the scripts rendered it

    @classmethod
    def from_hash(cls, job_id: str, raw: dict[bytes, bytes]) -> Job:
        h = {k.decode(): v for k, v in raw.items()}

        def text(field: Field, default: str = "") -> str:
            return h[field].decode() if h.get(field) else default

        def number(field: Field) -> float | None:
            return float(h[field]) if h.get(field) else None

        created = text(Field.CREATED_AT)
        return cls(
            id=job_id,
            status=JobStatus(text(Field.STATUS)),
            stage=Stage(text(Field.STAGE)),
            progress=int(text(Field.PROGRESS, "0")),
            filename=text(Field.FILENAME),
            created_at=created,
            updated_at=text(Field.UPDATED_AT, created),
            options=JobOptions.from_json(text(Field.OPTIONS, "{}")),
            result=orjson.loads(h[Field.RESULT]) if h.get(Field.RESULT) else None,
            error=text(Field.ERROR) or None,
            model_id=text(Field.MODEL_ID) or None,
            attempts=int(text(Field.ATTEMPTS, "0")),
            worker=text(Field.WORKER) or None,
            best_score=number(Field.BEST_SCORE),
            eta_seconds=number(Field.ETA_SECONDS),
            retrain_of=text(Field.RETRAIN_OF) or None,
            duplicate_of=text(Field.DUPLICATE_OF) or None,
            callback_url=text(Field.CALLBACK_URL) or None,
            callbacks=orjson.loads(h[Field.CALLBACKS]) if h.get(Field.CALLBACKS) else None,
            kind=JobKind(text(Field.KIND, JobKind.TRAIN.value)),
            status_json=h.get(Field.STATUS_JSON),
        )

    def to_status(self) -> dict[str, Any]:
        """The status document (what ``GET /api/model-train/status/{id}`` answers)."""
        if self.status_json is None:  # every script that changes a record renders it
            raise ValueError(f"job {self.id} has no rendered status document")
        return orjson.loads(self.status_json)

    def to_summary(self) -> dict[str, Any]:
        """One row of ``GET /api/model-train/status``."""
        return {
            "trackingId": self.id,
            "kind": self.kind.value,
            "status": self.status.value,
            "progress": self.progress,
            "stage": self.stage.value,
            "filename": self.filename,
            "createdAt": self.created_at,
            "modelId": self.model_id,
        }
