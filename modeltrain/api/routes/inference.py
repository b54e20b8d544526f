"""Predictions: /api/model-inference/predict"""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from modeltrain.api.deps import get_services
from modeltrain.api.services import Services
from modeltrain.exceptions import InvalidInput
from modeltrain.registry import parse_model_id
from modeltrain.serving import answer_as_csv, frame_from_csv, frame_from_request, predict

router = APIRouter(prefix="/api/model-inference", tags=["inference"])

_TRUE = {"1", "true", "yes"}

REQUEST_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["modelId"],
                "properties": {
                    "modelId": {"type": "string"},
                    "inputs": {"type": "array", "items": {"type": "object"}},
                    "dataframe_records": {"type": "array", "items": {"type": "object"}},
                    "dataframe_split": {"type": "object"},
                    "probabilities": {"type": "boolean"},
                },
            }
        },
        "text/csv": {"schema": {"type": "string"}},
    },
    "required": True,
}


def _predict(services: Services, body: dict[str, Any], frame=None) -> dict[str, Any]:  # noqa: ANN001
    ref = parse_model_id(body.get("modelId", ""))
    if frame is None:
        frame = frame_from_request(body, services.settings.max_predict_rows)
    model = services.models.get(ref)
    return predict(model, frame, probabilities=bool(body.get("probabilities", False)))


async def _read_body(request: Request, max_rows: int) -> tuple[dict[str, Any], Any]:
    """The request as (JSON-like body, frame or None): JSON, or a CSV body with `modelId` (and
    `probabilities`) in the query string."""
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "text/csv":
        params = request.query_params
        if "modelId" not in params:
            raise InvalidInput("a text/csv body needs ?modelId=… in the URL", field="modelId")
        body = {
            "modelId": params["modelId"],
            "probabilities": params.get("probabilities", "").lower() in _TRUE,
        }
        return body, await run_in_threadpool(frame_from_csv, raw, max_rows)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    if "modelId" not in body:
        raise InvalidInput("modelId is required", field="modelId")
    return body, None


@router.post(
    "/predict",
    summary="Predict with a registered model (JSON or CSV in, JSON or CSV out)",
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def predict_route(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    body, frame = await _read_body(request, services.settings.max_predict_rows)
    started = time.perf_counter()
    answer = await run_in_threadpool(_predict, services, body, frame)
    metrics = request.app.state.metrics
    label = answer["modelId"].removeprefix("models:/")
    metrics.predict.labels(label).observe(time.perf_counter() - started)
    metrics.rows.labels(label).inc(len(answer["predictions"]))
    if "text/csv" in request.headers.get("accept", ""):
        return Response(answer_as_csv(answer), media_type="text/csv")
    return Response(
        orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )
