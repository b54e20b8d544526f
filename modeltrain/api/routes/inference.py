"""Predictions: /api/model-inference/predict"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import orjson
import pandas as pd
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from modeltrain.api.plain_routes import install_ahead
from modeltrain.api.services import Services
from modeltrain.drift.counting import DriftCounter
from modeltrain.exceptions import InvalidInput
from modeltrain.registry import parse_model_id
from modeltrain.serving import LoadedModel, answer_as_csv, frame_from_csv, frame_from_request
from modeltrain.serving.batching import MicroBatcher
from modeltrain.serving.explanations import check_explainable, explanations
from modeltrain.serving.predictor import (
    SMALL_REQUEST_ROWS,
    Rows,
    answer,
    check_probabilities,
    model_frame,
    run_model,
)

router = APIRouter(prefix="/api/model-inference", tags=["inference"])

# A flag in a CSV request's query string, as FastAPI reads a boolean query parameter.
_QUERY_FLAGS = {"": False, "0": False, "false": False, "no": False, "off": False,
                "1": True, "true": True, "yes": True, "on": True}  # fmt: skip
FLAGS = ("probabilities", "explain")  # the request's boolean fields
INLINE_ROWS = 16  # rows a pipeline of ours predicts on the event loop (see MicroBatcher)
INLINE_BODY_BYTES = 256 * 1024  # JSON bodies parsed on the event loop; larger ones in a thread

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
                    "explain": {"type": "boolean"},
                },
            }
        },
        "text/csv": {"schema": {"type": "string"}},
    },
    "required": True,
}


async def _read_body(request: Request, max_rows: int) -> tuple[dict[str, Any], Rows]:
    """The request as (JSON-like body, rows): JSON, or a CSV body with `modelId` (and
    `probabilities`) in the query string."""
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "text/csv":
        params = request.query_params
        if "modelId" not in params:
            raise InvalidInput("a text/csv body needs ?modelId=… in the URL", field="modelId")
        body: dict[str, Any] = {"modelId": params["modelId"]}
        for name in FLAGS:
            flag = _QUERY_FLAGS.get(params.get(name, "").strip().lower())
            if flag is None:
                raise InvalidInput(f"{name} must be true or false", field=name)
            body[name] = flag
        return body, await run_in_threadpool(frame_from_csv, raw, max_rows)
    try:
        body = (
            orjson.loads(raw)
            if len(raw) <= INLINE_BODY_BYTES
            else await run_in_threadpool(orjson.loads, raw)
        )
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    if "modelId" not in body:
        raise InvalidInput("modelId is required", field="modelId")
    for name in FLAGS:
        if not isinstance(body.get(name, False), bool):
            raise InvalidInput(f"{name} must be a JSON boolean (true or false)", field=name)
    # Work that grows with the rows runs in a worker thread, so that one large request does not
    # hold up every other request on the event loop; small ones stay inline (no thread hop).
    split = body.get("dataframe_split")
    data = split.get("data") if isinstance(split, dict) else None
    if isinstance(data, list) and len(data) > SMALL_REQUEST_ROWS:
        return body, await run_in_threadpool(frame_from_request, body, max_rows)
    return body, frame_from_request(body, max_rows)


async def _model(services: Services, model_id: Any) -> LoadedModel:
    ref = parse_model_id(model_id)
    model = services.models.peek(ref)  # a loaded version: no thread hop
    return model if model is not None else await run_in_threadpool(services.models.get, ref)


def _batcher(model: LoadedModel) -> MicroBatcher:
    if model.batcher is None:
        inline = INLINE_ROWS if model.takes_columns else 0
        model.batcher = MicroBatcher(partial(run_model, model), inline_rows=inline)
    return model.batcher


async def _frame(rows: Rows, model: LoadedModel) -> pd.DataFrame:
    if isinstance(rows, list) and len(rows) <= SMALL_REQUEST_ROWS:
        return model_frame(rows, model)  # microseconds: stay on the event loop
    return await run_in_threadpool(model_frame, rows, model)


def _drift(services: Services, model: LoadedModel) -> DriftCounter:
    if model.drift is None:
        assert model.profile is not None
        model.drift = services.drift.counter(model.name, model.version, model.profile)
    return model.drift


PREDICT_PATH = "/api/model-inference/predict"


PREDICT_OPERATION = {
    "tags": ["inference"],
    "summary": "Predict with a registered model (JSON or CSV in, JSON or CSV out)",
    "operationId": "predict",
    "requestBody": REQUEST_BODY,
}


async def predict_route(request: Request) -> Response:
    """A hot route: served ahead of FastAPI's router (install_fast_predict_route)."""
    services: Services = request.app.state.services
    body, rows = await _read_body(request, services.settings.max_predict_rows)
    started = time.perf_counter()
    model = await _model(services, body.get("modelId", ""))
    probabilities = body.get("probabilities", False)
    if probabilities:
        check_probabilities(model)
    explain = body.get("explain", False)
    if explain:
        check_explainable(model)
    data = await _frame(rows, model)
    result = answer(model, *await _batcher(model).submit(data, probabilities))
    if model.profile is not None and services.settings.drift_counting:
        _drift(services, model).record(data)
    if explain:
        small = isinstance(rows, list) and len(rows) <= INLINE_ROWS
        result["explanations"] = (
            explanations(model, data)
            if small
            else await run_in_threadpool(explanations, model, data)
        )
    metrics = request.app.state.metrics
    label = model.model_id.removeprefix("models:/")
    metrics.predict.labels(label).observe(time.perf_counter() - started)
    metrics.rows.labels(label).inc(len(result["predictions"]))
    large = len(result["predictions"]) > SMALL_REQUEST_ROWS
    if "text/csv" in request.headers.get("accept", ""):
        csv = await run_in_threadpool(answer_as_csv, result) if large else answer_as_csv(result)
        return Response(csv, media_type="text/csv")
    dumped = await run_in_threadpool(_json, result) if large else _json(result)
    return Response(dumped, media_type="application/json")


def _json(result: dict[str, Any]) -> bytes:
    return orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY)


def install_fast_predict_route(app: FastAPI) -> None:
    """Predictions skip FastAPI's router (see api/plain_routes.py)."""
    install_ahead(app, PREDICT_PATH, predict_route, "POST", PREDICT_OPERATION)
