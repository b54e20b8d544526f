"""The job record as the service sees it, and how it is (de)serialised to a Redis hash."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

from modeltrain.constants import JobStatus, Stage, Task


@dataclass(frozen=True)
class JobOptions:
    """What the client asked for on chunk 0, plus what the upload check found."""

    target: str | None = None
    task: Task = Task.AUTO
    model_name: str = "model"
    time_budget: float = 60.0
    encoding: str | None = None
    delimiter: str | None = None

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobOptions:
        data = orjson.loads(raw)
        data["task"] = Task(data.get("task", Task.AUTO))
        return cls(**data)


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
    worker: str | None = None  # who runs (or ran) the latest attempt: "<node>:<pid>:<random>"
    best_score: float | None = None  # primary metric of the best candidate so far
    eta_seconds: float | None = None  # model-search time left when last reported

    @classmethod
    def from_hash(cls, job_id: str, raw: dict[bytes, bytes]) -> Job:
        h = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(
            id=job_id,
            status=JobStatus(h["status"]),
            stage=Stage(h["stage"]),
            progress=int(h.get("progress", "0")),
            filename=h.get("filename", ""),
            created_at=h["createdAt"],
            updated_at=h.get("updatedAt", h["createdAt"]),
            options=JobOptions.from_json(h.get("options", "{}")),
            result=orjson.loads(h["result"]) if h.get("result") else None,
            error=h.get("error") or None,
            model_id=h.get("modelId") or None,
            attempts=int(h.get("attempts", "0")),
            worker=h.get("worker") or None,
            best_score=float(h["bestScore"]) if h.get("bestScore") else None,
            eta_seconds=float(h["etaSeconds"]) if h.get("etaSeconds") else None,
        )

    def to_status(self) -> dict[str, Any]:
        """The body of ``GET /api/model-train/status/{id}``."""
        return {
            "trackingId": self.id,
            "status": self.status.value,
            "progress": self.progress,
            "stage": self.stage.value,
            "result": self.result,
            "error": self.error,
            "modelId": self.model_id,
            "filename": self.filename,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "attempts": self.attempts,
            "bestScore": self.best_score,
            "eta": self.eta_seconds,
            "worker": self.worker,
            "options": {
                "target": self.options.target,
                "task": self.options.task.value,
                "modelName": self.options.model_name,
                "timeBudget": self.options.time_budget,
            },
        }

    def to_summary(self) -> dict[str, Any]:
        """One row of ``GET /api/model-train/status``."""
        return {
            "trackingId": self.id,
            "status": self.status.value,
            "progress": self.progress,
            "stage": self.stage.value,
            "filename": self.filename,
            "createdAt": self.created_at,
            "modelId": self.model_id,
        }
