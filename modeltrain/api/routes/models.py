"""Registered models: /api/models"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from modeltrain import __version__
from modeltrain.api.deps import get_services
from modeltrain.api.services import Services

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/info", summary="What a client needs to know: limits and where MLflow's UI is")
def info(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    settings = services.settings
    return JSONResponse(
        {
            "version": __version__,
            "mlflowUrl": settings.mlflow_ui_url or settings.mlflow_tracking_uri,
            "maxUploadBytes": settings.max_upload_bytes,
            "maxChunkBytes": settings.max_chunk_bytes,
            "defaultTimeBudget": settings.default_time_budget,
            "maxTimeBudget": settings.max_time_budget,
        }
    )


@router.get("/models", summary="Registered models with their versions and metrics")
def list_models(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    return JSONResponse(services.registry.list_models())
