"""What a worker process needs to run jobs, made once per process after fork."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modeltrain.batch.compiled import CompiledMembers
from modeltrain.batch.results import BatchResults
from modeltrain.config import Settings
from modeltrain.connections import configure_mlflow, create_mlflow_client, create_redis
from modeltrain.constants import Keys
from modeltrain.drift.counting import DriftFlusher
from modeltrain.jobs import JobStore
from modeltrain.jobs.duplicates import DuplicateIndex
from modeltrain.registry import Registry
from modeltrain.serving import ModelCache
from modeltrain.serving.model_events import announce_model
from modeltrain.uploads.staging import UploadStaging

WORKER_MODELS_KEPT = 4  # model versions a worker process keeps loaded for batch jobs


@dataclass
class WorkerContext:
    settings: Settings
    store: JobStore
    staging: UploadStaging
    registry: Registry
    duplicates: DuplicateIndex
    requeue: Callable[[str, float], None]  # (job id, time budget): send the job to the queue
    announce: Callable[[str, str], None]  # (model name, version): a new version is registered
    models: ModelCache  # the versions batch jobs predict with
    results: BatchResults  # batch jobs' result CSVs
    drift: DriftFlusher  # batch rows are counted for drift as served rows are
    compiled: CompiledMembers  # batch jobs' LightGBM members as native code

    @classmethod
    def create(cls, settings: Settings, requeue: Callable[[str, float], None]) -> WorkerContext:
        client = create_redis(settings)
        keys = Keys(settings.redis_prefix)
        configure_mlflow(settings)
        store = JobStore(client, keys, settings.job_retention_seconds)
        mlflow_client = create_mlflow_client(settings)
        return cls(
            settings=settings,
            store=store,
            duplicates=DuplicateIndex(client, keys, store, settings.job_retention_seconds),
            staging=UploadStaging.for_settings(client, keys, settings),
            registry=Registry(mlflow_client, settings.mlflow_experiment),
            requeue=requeue,
            announce=lambda name, version: announce_model(
                client, keys.model_events(), name, version
            ),
            models=ModelCache(
                mlflow_client, WORKER_MODELS_KEPT, alias_ttl=settings.alias_ttl_seconds
            ),
            results=BatchResults(
                client, keys, settings.job_retention_seconds, settings.upload_ttl_seconds
            ),
            drift=DriftFlusher(client, keys, settings.job_retention_seconds),
            compiled=CompiledMembers(settings.data_dir / "compiled", settings.batch_compile),
        )
