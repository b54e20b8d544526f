"""Liveness and readiness."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from modeltrain.api.deps import get_services
from modeltrain.api.metrics import CONTENT_TYPE
from modeltrain.api.services import Services
from modeltrain.runtime.supervisor import ChildState, read_state

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check(fn: Callable[[], object]) -> dict[str, Any]:
    try:
        fn()
        return {"ok": True}
    except Exception as exc:  # readiness reports any failure as text
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


class PrometheusResponse(Response):
    media_type = CONTENT_TYPE


@router.get(
    "/metrics",
    summary="Prometheus metrics of this API process",
    response_class=PrometheusResponse,
)
def metrics(request: Request) -> PrometheusResponse:
    return PrometheusResponse(request.app.state.metrics.render())


@router.get("/readyz", summary="Redis and MLflow answer; says whether a worker answers")
def readyz(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    checks = {
        "redis": _check(services.redis.ping),
        "mlflow": _check(lambda: services.mlflow.search_experiments(max_results=1)),
    }
    try:
        replies = services.celery.control.ping(timeout=0.5) or []
        workers = sorted(name for reply in replies for name in reply)
    except Exception:  # the broker is Redis: already reported above
        workers = []
    ready = all(c["ok"] for c in checks.values())
    body: dict[str, Any] = {"checks": checks, "workers": workers}
    processes = _supervised_processes(services.settings.supervisor_state_file)
    if processes is not None:  # started by `modeltrain up`: its worker must be running too
        body["processes"] = processes
        ready = ready and processes.get("worker") == ChildState.RUNNING.value
    body = {"status": "ready" if ready else "unavailable", **body}
    return JSONResponse(body, status_code=200 if ready else 503)


def _supervised_processes(state_file: Path | None) -> dict[str, str] | None:
    """How each process that `modeltrain up` started is, e.g. ``{"worker": "restarting (3rd
    time, last exit -9)"}``; None when this API was not started by a running `up`."""
    if state_file is None:
        return None
    state = read_state(state_file)
    if state is None:
        return None
    return {role: child.get("description", "?") for role, child in state["children"].items()}
