"""Registered models: /api/models, their aliases and versions"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, JsonValue

from modeltrain import __version__, metrics
from modeltrain.api.auth import caller_of
from modeltrain.api.deps import get_services
from modeltrain.api.services import Services
from modeltrain.constants import Task
from modeltrain.training_options import TRAINING
from modeltrain_model import families

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
            "families": list(families.names()),
            "options": [
                {"name": o.field, "help": o.help, "choices": list(o.choices or []) or None}
                for o in TRAINING
            ],
            "metrics": {  # per task, the default first
                task.value: [
                    {
                        "name": m.name,
                        "help": m.help,
                        "higherIsBetter": m.higher_is_better,
                        "binaryOnly": m.binary_only,
                        "tunesThreshold": m.tunes_threshold,
                    }
                    for m in metrics.METRICS
                    if m.task == task
                ]
                for task in (Task.CLASSIFICATION, Task.REGRESSION)
            },  # fmt: skip
        }
    )


@router.get("/models", summary="Registered models with their versions and metrics")
def list_models(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    return JSONResponse(services.registry.list_models())


class AliasBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # "yes" is no boolean, "30" no number
    version: JsonValue  # checked by the lifecycle: a number, or digits in a string


@router.put(
    "/models/{name}/aliases/{alias}",
    summary="Point an alias at a version (a hand-set champion stays until set again)",
)
def set_alias(
    name: str,
    alias: str,
    body: AliasBody,
    request: Request,
    services: Annotated[Services, Depends(get_services)],
) -> JSONResponse:
    who = caller_of(request.scope).label
    return JSONResponse(services.lifecycle.set_alias(name, alias, body.version, who))


@router.delete("/models/{name}/aliases/{alias}", summary="Remove an alias")
def remove_alias(
    name: str, alias: str, services: Annotated[Services, Depends(get_services)]
) -> JSONResponse:
    return JSONResponse(services.lifecycle.remove_alias(name, alias))


@router.get(
    "/models/{name}/versions/{version}/drift",
    summary="PSI of each input column of the rows served since the window began",
)
def drift(
    name: str, version: str, services: Annotated[Services, Depends(get_services)]
) -> JSONResponse:
    services.drift.flush()  # this process's latest rows count too
    return JSONResponse(services.drift_reports.report(name, version))


@router.delete(
    "/models/{name}/versions/{version}/drift",
    summary="Start a new drift window for the version (the counts so far are dropped)",
)
def reset_drift(
    name: str, version: str, services: Annotated[Services, Depends(get_services)]
) -> JSONResponse:
    services.drift.flush()
    return JSONResponse(services.drift_reports.reset(name, version))


@router.delete(
    "/models/{name}/versions/{version}",
    summary="Delete a version; 409 while an alias points at it unless force=true",
)
def delete_version(
    name: str,
    version: str,
    services: Annotated[Services, Depends(get_services)],
    force: bool = False,
) -> JSONResponse:
    return JSONResponse(services.lifecycle.delete_version(name, version, force))
