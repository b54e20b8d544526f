"""The app factory and its lifespan."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from modeltrain import __version__
from modeltrain.api.deps import require_api_key
from modeltrain.api.errors import install_error_handlers
from modeltrain.api.limits import UploadSizeLimit
from modeltrain.api.routes import health, inference, models, training
from modeltrain.api.services import Services
from modeltrain.config import Settings, get_settings
from modeltrain.logging import configure_logging, fields, request_id_var

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_format)
        services = await run_in_threadpool(Services.create, settings)
        app.state.services = services
        log.info("api.started", extra=fields(mlflow=settings.mlflow_tracking_uri))
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="Model Train Service",
        version=__version__,
        description="Upload a CSV in chunks, train a model, serve predictions from MLflow.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    secured = [Depends(require_api_key)]
    app.include_router(training.router, dependencies=secured)
    app.include_router(inference.router, dependencies=secured)
    app.include_router(models.router, dependencies=secured)
    app.include_router(health.router)

    @app.middleware("http")
    async def request_ids(request: Request, call_next):  # noqa: ANN001, ANN202
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id_var.reset(token)
        response.headers["x-request-id"] = request_id
        log.debug(
            "api.request",
            extra=fields(
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                ms=round((time.perf_counter() - started) * 1000, 2),
                request_id=request_id,
            ),
        )
        return response

    app.add_middleware(
        UploadSizeLimit, path="/api/model-train/start", max_bytes=settings.max_chunk_bytes
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
