"""Registered models: /api/models"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from modeltrain.api.deps import get_services
from modeltrain.api.services import Services

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models", summary="Registered models with their versions and metrics")
def list_models(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    return JSONResponse(services.registry.list_models())
