"""Every setting of the service, read from the environment (and `.env`) once, typed and validated.

Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODELTRAIN_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # --- where things live -------------------------------------------------------------
    redis_url: str = "redis://localhost:6379/0"
    # Key prefix for everything this service writes to Redis (lets deployments share a Redis).
    redis_prefix: str = "mt"
    # The MLflow tracking + registry server. None = the local server that `modeltrain up` starts.
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "MODELTRAIN_MLFLOW_TRACKING_URI"),
    )
    mlflow_experiment: str = "modeltrain"
    mlflow_ui_url: str | None = None  # MLflow UI as browsers reach it (default: tracking URI)
    data_dir: Path = Path("./.modeltrain-data")

    # --- uploads -----------------------------------------------------------------------
    max_upload_bytes: int = Field(default=26_214_400, ge=1)  # bytes (25 MiB)
    max_chunk_bytes: int = Field(default=8_388_608, ge=1)  # bytes per chunk (8 MiB)
    upload_ttl_seconds: int = Field(default=3600, ge=10)  # seconds an unfinished upload is kept
    job_retention_seconds: int = Field(default=30 * 24 * 3600, ge=60)  # seconds a job is kept
    max_uploads_in_flight: int = Field(default=200, ge=1)  # unfinished uploads at once

    # --- training ----------------------------------------------------------------------
    default_time_budget: float = Field(default=60.0, ge=1)  # seconds
    max_time_budget: float = Field(default=3600.0, ge=1)  # seconds
    train_threads: int = Field(default=0, ge=0)  # model threads per job; 0 = all cores
    max_attempts: int = Field(default=2, ge=1)  # runs of one job when its worker is lost
    lease_seconds: int = Field(default=30, ge=3)  # a job's worker is lost after this silence

    # --- MLflow client: bounded so an outage fails a job within about two minutes ---------
    mlflow_request_timeout: int = Field(default=15, ge=1)  # seconds per HTTP request
    mlflow_request_retries: int = Field(default=2, ge=0)  # retries per HTTP request

    # --- clients (the `modeltrain train|status|models|predict` commands) -------------------
    url: str = "http://127.0.0.1:8000"  # the service they talk to

    # --- API ---------------------------------------------------------------------------
    api_key: str | None = None  # one admin key (kept for single-key set-ups)
    # Keys with roles: the SHA-256 hex digest of each key -> predict | train | admin
    # (`modeltrain keys new --role predict` makes one and prints its line).
    api_keys: dict[str, Literal["predict", "train", "admin"]] = Field(default_factory=dict)
    cors_origins: list[str] = Field(default_factory=list)
    model_cache_size: int = Field(default=16, ge=1)  # loaded model versions kept per process
    alias_ttl_seconds: float = Field(default=10.0, ge=0)  # seconds an alias's version is trusted
    max_predict_rows: int = Field(default=100_000, ge=1)  # rows per prediction request
    drift_psi_threshold: float = Field(default=0.2, gt=0)  # a column drifts above this PSI
    drift_min_rows: int = Field(default=500, ge=1)  # served rows before drift is judged
    drift_counting: bool = True  # count served rows into their version's profile bins

    # --- webhooks (a job's `callbackUrl`, called by a worker when the job ends) -------------
    webhook_allowed_hosts: list[str] = Field(default_factory=list)  # host names; none: no calls
    webhook_secret: str | None = None  # HMAC-SHA256 key of X-Modeltrain-Signature
    webhook_attempts: int = Field(default=5, ge=1)  # tries per job (1 s, 2 s, 4 s … apart)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)  # per try

    # --- logging -----------------------------------------------------------------------
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    # --- worker ------------------------------------------------------------------------
    worker_concurrency: int = Field(default=1, ge=1)  # training jobs at once per worker
    # Celery's execution pool: prefork (a process per job, the default), solo or threads;
    # gevent/eventlet only where installed.
    worker_pool: Literal["prefork", "solo", "threads", "gevent", "eventlet"] = "prefork"
    # Batch jobs compile their model's LightGBM trees to native code with the machine's C
    # compiler (gcc or clang; none found: LightGBM predicts). Same values, several times faster.
    batch_compile: bool = True

    # --- `modeltrain up` -----------------------------------------------------------------
    # Set by `up` for the processes it starts: where it writes what it knows of them, so that
    # /readyz can name a child that is down or restarting.
    supervisor_state_file: Path | None = None
    # How often the Redis that `up` starts syncs its append-only file to disk: `everysec`
    # (at most the last second of writes lost if the machine dies) or `always` (each write
    # on disk before Redis answers). bench/service.py measures what `always` costs.
    redis_appendfsync: Literal["everysec", "always"] = "everysec"

    @field_validator("api_key", "mlflow_tracking_uri", "webhook_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _no_keys_when_empty(cls, value: object) -> object:
        return {} if value in ("", None) else value

    @field_validator("api_keys")
    @classmethod
    def _digests_only(cls, value: dict[str, str]) -> dict[str, str]:
        for digest in value:
            if not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
                raise ValueError(
                    "MODELTRAIN_API_KEYS maps the SHA-256 hex digest of each key (64 hex "
                    "digits) to its role; `modeltrain keys new` prints such a line"
                )
        return {digest.lower(): role for digest, role in value.items()}

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("max_time_budget")
    @classmethod
    def _budget_bounds(cls, value: float, info: ValidationInfo) -> float:
        default = info.data.get("default_time_budget", 1.0)
        if value < default:
            raise ValueError("max_time_budget must be at least default_time_budget")
        return value


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()


def apply_mlflow_client_settings(settings: Settings) -> None:
    """MLflow's HTTP client reads its timeout and retries from the environment only."""
    import os

    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(settings.mlflow_request_timeout)
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.mlflow_request_retries)
    os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"
    os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"] = "0.5"


def child_environment(**overrides: str | None) -> dict[str, str]:
    """The environment for a child process this service starts: ours, with overrides
    (None removes a variable)."""
    import os

    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
