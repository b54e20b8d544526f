"""Domain errors. Services raise these; the API turns each into ``{"error": ...}`` + status code."""

from __future__ import annotations

from typing import Any


class ModelTrainError(Exception):
    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = {k: v for k, v in extra.items() if v is not None}


class InvalidInput(ModelTrainError):
    status_code = 422


class InvalidCsv(InvalidInput):
    """The upload is not a CSV we can train on."""


class NotFound(ModelTrainError):
    status_code = 404


class Conflict(ModelTrainError):
    status_code = 409


class PayloadTooLarge(ModelTrainError):
    status_code = 413


class TooManyRequests(ModelTrainError):
    status_code = 429

    def __init__(self, message: str, retry_after: int, **extra: Any) -> None:
        super().__init__(message, retryAfter=retry_after, **extra)
        self.headers = {"Retry-After": str(retry_after)}


class Unauthorized(ModelTrainError):
    status_code = 401


class ServiceUnavailable(ModelTrainError):
    status_code = 503


class TrainingError(ModelTrainError):
    """Training cannot go on with this data; the job fails with this message."""

    status_code = 422
