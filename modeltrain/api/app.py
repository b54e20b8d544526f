"""The app factory and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from modeltrain import __version__
from modeltrain.api.auth import AccessKeys, ApiKeyMiddleware
from modeltrain.api.errors import install_error_handlers
from modeltrain.api.limits import UploadSizeLimit
from modeltrain.api.metrics import (
    ApiMetrics,
    CacheCollector,
    DriftCollector,
    JobsCollector,
    MetricsMiddleware,
)
from modeltrain.api.option_fields import document_upload_options
from modeltrain.api.plain_routes import document_plain_routes
from modeltrain.api.request_ids import RequestIdMiddleware
from modeltrain.api.routes import batch, health, inference, models, training
from modeltrain.api.services import Services
from modeltrain.api.web import install_web
from modeltrain.config import Settings, get_settings
from modeltrain.logging import configure_logging, fields
from modeltrain.serving.cache import settle_garbage

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_format)
        services = await run_in_threadpool(Services.create, settings)
        app.state.services = services
        metrics.add_collector(CacheCollector(services.models))
        metrics.add_collector(JobsCollector(services.job_store))
        metrics.add_collector(DriftCollector(services.models, services.drift_reports))
        listener = asyncio.create_task(services.model_events.run(), name="model-events")
        services.drift.start()
        settle_garbage()  # what the start made lives as long as the process
        log.info("api.started", extra=fields(mlflow=settings.mlflow_tracking_uri))
        try:
            yield
        finally:
            listener.cancel()
            services.drift.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await services.aclose()

    app = FastAPIOffline(  # Swagger UI and ReDoc served from the package: works offline
        static_url="/docs-assets",
        title="Model Train Service",
        version=__version__,
        description="Upload a CSV in chunks, train a model, serve predictions from MLflow.",
        lifespan=lifespan,
    )
    metrics = ApiMetrics()
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    app.include_router(training.router)
    app.include_router(inference.router)
    app.include_router(batch.router)
    app.include_router(models.router)
    app.include_router(health.router)
    training.install_fast_status_route(app)
    inference.install_fast_predict_route(app)
    document_plain_routes(app)
    document_upload_options(app, "/api/model-train/start")
    install_web(app)
    _install_middleware(app, settings, metrics)
    return app


def _install_middleware(app: FastAPI, settings: Settings, metrics: ApiMetrics) -> None:
    """What covers every route: keys, request ids, metrics, the chunk size limit, CORS."""
    keys = AccessKeys.from_settings(settings)
    if keys:
        app.add_middleware(ApiKeyMiddleware, keys=keys)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(
        UploadSizeLimit, path="/api/model-train/start", max_bytes=settings.max_chunk_bytes
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
