"""What a worker process needs to run jobs, made once per process after fork."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modeltrain.config import Settings
from modeltrain.connections import configure_mlflow, create_mlflow_client, create_redis
from modeltrain.constants import Keys
from modeltrain.jobs import JobStore
from modeltrain.jobs.duplicates import DuplicateIndex
from modeltrain.registry import Registry
from modeltrain.serving.model_events import announce_model
from modeltrain.uploads.staging import UploadStaging


@dataclass
class WorkerContext:
    settings: Settings
    store: JobStore
    staging: UploadStaging
    registry: Registry
    duplicates: DuplicateIndex
    requeue: Callable[[str, float], None]  # (job id, time budget): send the job to the queue
    announce: Callable[[str, str], None]  # (model name, version): a new version is registered

    @classmethod
    def create(cls, settings: Settings, requeue: Callable[[str, float], None]) -> WorkerContext:
        client = create_redis(settings)
        keys = Keys(settings.redis_prefix)
        configure_mlflow(settings)
        store = JobStore(client, keys, settings.job_retention_seconds)
        return cls(
            settings=settings,
            store=store,
            duplicates=DuplicateIndex(client, keys, store, settings.job_retention_seconds),
            staging=UploadStaging.for_settings(client, keys, settings),
            registry=Registry(create_mlflow_client(settings), settings.mlflow_experiment),
            requeue=requeue,
            announce=lambda name, version: announce_model(
                client, keys.model_events(), name, version
            ),
        )
