"""Factories for the clients the service needs. They make clients; they do not hold them.

Called from the API's lifespan and from the worker's ``worker_process_init``; nothing connects
at import.
"""

from __future__ import annotations

import redis
import redis.asyncio
from celery import Celery
from mlflow import MlflowClient
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from modeltrain.config import Settings, apply_mlflow_client_settings
from modeltrain.constants import CELERY_APP_NAME, CELERY_QUEUE, TRAIN_TASK_NAME
from modeltrain.exceptions import ServiceUnavailable

# A command whose connection broke (e.g. Redis restarted) is tried again on a new connection.
REDIS_RETRIES = 3


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=1.0, base=0.05), REDIS_RETRIES)


def create_redis(settings: Settings) -> redis.Redis:
    """A Redis client (bytes in, bytes out) with bounded timeouts."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry=_retry(),
        retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
    )


def create_async_redis(settings: Settings) -> redis.asyncio.Redis:
    """An asyncio Redis client for reads on the API's event loop.

    ``socket_timeout=None`` (redis-py's asyncio default is 5 s): with a socket timeout it wraps
    every send in ``asyncio.wait_for``, a task per command; callers bound their calls with the
    cheaper ``asyncio.timeout`` instead."""
    return redis.asyncio.Redis.from_url(
        settings.redis_url,
        socket_timeout=None,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry=AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), REDIS_RETRIES),
        retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
    )


def tracking_uri(settings: Settings) -> str:
    if not settings.mlflow_tracking_uri:
        raise ServiceUnavailable(
            "MLFLOW_TRACKING_URI is not set: start the service with `modeltrain up`, "
            "or point MLFLOW_TRACKING_URI at an MLflow server"
        )
    return settings.mlflow_tracking_uri


def configure_mlflow(settings: Settings) -> str:
    """Point this process's MLflow fluent API at the configured server and return its URI.

    ``mlflow.pyfunc.load_model`` and ``mlflow.<flavor>.log_model`` only read the process-wide
    tracking URI, so it is set here, once per process, and nowhere else.
    """
    import mlflow

    apply_mlflow_client_settings(settings)
    uri = tracking_uri(settings)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def create_mlflow_client(settings: Settings) -> MlflowClient:
    apply_mlflow_client_settings(settings)
    uri = tracking_uri(settings)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def create_celery_app(settings: Settings) -> Celery:
    """The Celery app ``celery-app`` on the Redis broker. Creating it does not connect."""
    app = Celery(CELERY_APP_NAME, broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_default_queue=CELERY_QUEUE,
        task_routes={TRAIN_TASK_NAME: {"queue": CELERY_QUEUE}},
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # our job record in Redis is the result
        task_acks_late=True,  # a job is acknowledged only once it has finished
        task_reject_on_worker_lost=True,  # a killed worker hands the job back
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.worker_concurrency,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # Longer than the longest job (max budget + margin), so Redis does not redeliver a
            # job that is still running.
            "visibility_timeout": int(settings.max_time_budget * 2 + 3600),
        },
        worker_send_task_events=True,
        task_send_sent_event=True,
    )
    return app
