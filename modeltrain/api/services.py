"""The API process's clients and services, made in the lifespan and closed on shutdown."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.asyncio
from celery import Celery
from mlflow import MlflowClient
from redis.asyncio import Redis as AsyncRedis

from modeltrain.batch.results import BatchResults
from modeltrain.config import Settings
from modeltrain.connections import (
    configure_mlflow,
    create_async_redis,
    create_celery_app,
    create_mlflow_client,
    create_redis,
)
from modeltrain.constants import Keys
from modeltrain.drift.counting import DriftFlusher
from modeltrain.drift.service import DriftReports
from modeltrain.jobs import AsyncJobReader, JobStore
from modeltrain.jobs.control import JobControls
from modeltrain.jobs.duplicates import DuplicateIndex
from modeltrain.jobs.retrain import Retrainer
from modeltrain.registry import Registry
from modeltrain.registry.lifecycle import ModelLifecycle
from modeltrain.serving import ModelCache
from modeltrain.serving.model_events import ModelEvents, announce_alias, announce_deleted
from modeltrain.uploads.service import UploadService
from modeltrain.uploads.staging import UploadStaging
from modeltrain.worker.dispatch import send_train_task


@dataclass
class Services:
    settings: Settings
    redis: redis.Redis
    async_redis: AsyncRedis  # (the field `redis` hides the module here)
    celery: Celery
    mlflow: MlflowClient
    job_store: JobStore  # sync: creates and changes job records
    job_reader: AsyncJobReader  # async: reads them on the event loop (status polls)
    uploads: UploadService
    controls: JobControls  # cancel, finish early, forget
    retrainer: Retrainer
    registry: Registry
    lifecycle: ModelLifecycle  # aliases, version deletion
    models: ModelCache
    batch_results: BatchResults  # batch jobs' result CSVs
    drift: DriftFlusher  # served rows counted for drift, flushed to Redis
    drift_reports: DriftReports
    model_events: ModelEvents  # warms new versions, evicts deleted ones

    @classmethod
    def create(cls, settings: Settings) -> Services:
        client = create_redis(settings)
        keys = Keys(settings.redis_prefix)
        celery = create_celery_app(settings)
        configure_mlflow(settings)
        mlflow_client = create_mlflow_client(settings)
        store = JobStore(client, keys, settings.job_retention_seconds)
        staging = UploadStaging.for_settings(client, keys, settings)

        def enqueue(job_id: str, time_budget: float) -> None:
            send_train_task(celery, job_id, time_budget)

        registry = Registry(mlflow_client, settings.mlflow_experiment)
        duplicates = DuplicateIndex(client, keys, store, settings.job_retention_seconds)
        async_client = create_async_redis(settings)
        models = ModelCache(
            mlflow_client, settings.model_cache_size, alias_ttl=settings.alias_ttl_seconds
        )
        drift = DriftFlusher(client, keys, settings.job_retention_seconds)
        batch_results = BatchResults(
            client, keys, settings.job_retention_seconds, settings.upload_ttl_seconds
        )
        return cls(
            settings=settings,
            redis=client,
            async_redis=async_client,
            celery=celery,
            mlflow=mlflow_client,
            job_store=store,
            job_reader=AsyncJobReader(async_client, keys),
            uploads=UploadService(
                settings,
                store,
                staging,
                enqueue,
                duplicates,
                model_exists=registry.version_exists,
                check_model=registry.check_model_id,
            ),
            controls=JobControls(store, staging, batch_results),
            retrainer=Retrainer(settings, store, registry, enqueue),
            registry=registry,
            lifecycle=_lifecycle(mlflow_client, client, keys, models, drift),
            models=models,
            batch_results=batch_results,
            drift=drift,
            drift_reports=DriftReports(
                client,
                keys,
                mlflow_client,
                settings.drift_psi_threshold,
                settings.drift_min_rows,
            ),
            model_events=ModelEvents(async_client, keys.model_events(), models),
        )

    async def aclose(self) -> None:
        self.redis.close()
        await self.async_redis.aclose()
        self.celery.close()


def _lifecycle(
    mlflow_client: MlflowClient,
    client: redis.Redis,
    keys: Keys,
    models: ModelCache,
    drift: DriftFlusher,
) -> ModelLifecycle:
    """Aliases and deletions: this process acts on a change at once, and announces it to the
    other API processes (serving/model_events.py)."""
    channel = keys.model_events()

    def alias_changed(name: str, alias: str, version: str | None) -> None:
        if version is None:
            models.forget_alias(name, alias)
        else:  # this process serves the new target at once, the others after the event
            models.set_alias(name, alias, version)
        announce_alias(client, channel, name, alias)

    def version_deleted(name: str, version: str) -> None:
        models.evict(name, version)
        drift.forget(name, version)
        client.delete(keys.drift(name, version))
        announce_deleted(client, channel, name, version)

    return ModelLifecycle(mlflow_client, alias_changed, version_deleted)
