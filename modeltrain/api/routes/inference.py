"""Predictions: /api/model-inference/predict"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from modeltrain.api.deps import get_services
from modeltrain.api.services import Services
from modeltrain.exceptions import InvalidInput
from modeltrain.registry import parse_model_id
from modeltrain.serving import frame_from_request, predict

router = APIRouter(prefix="/api/model-inference", tags=["inference"])


def _predict(services: Services, body: dict[str, Any]) -> dict[str, Any]:
    ref = parse_model_id(body.get("modelId", ""))
    frame = frame_from_request(body, services.settings.max_predict_rows)
    model = services.models.get(ref)
    return predict(model, frame, probabilities=bool(body.get("probabilities", False)))


@router.post(
    "/predict",
    summary="Predict with a registered model",
    openapi_extra={
        "requestBody": {
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
                }
            },
            "required": True,
        }
    },
)
async def predict_route(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    if "modelId" not in body:
        raise InvalidInput("modelId is required", field="modelId")
    answer = await run_in_threadpool(_predict, services, body)
    return Response(
        orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )
