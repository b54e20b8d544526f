"""One error shape, `{"error": "..."}`, for everything the API refuses; never a stack trace."""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modeltrain.exceptions import ModelTrainError

log = logging.getLogger(__name__)


def _error(
    code: int,
    message: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, object] | None = None,
) -> JSONResponse:
    headers = dict(headers or {})
    if code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = {"error": message, **(extra or {})}
    return JSONResponse(body, status_code=code, headers=headers or None)


def _describe(err: dict) -> tuple[str, str]:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "body"
    return field, f"{field}: {err.get('msg', 'invalid')}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ModelTrainError)
    async def _domain(_: Request, exc: ModelTrainError) -> JSONResponse:
        return _error(exc.status_code, exc.message, exc.headers, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        described = [_describe(e) for e in exc.errors()]
        fields = [f for f, _ in described]
        message = "; ".join(m for _, m in described) or "invalid request"
        return _error(
            422, message, extra={"field": fields[0] if fields else None, "fields": fields}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return _error(exc.status_code, message)

    @app.exception_handler(redis.exceptions.ConnectionError)
    @app.exception_handler(redis.exceptions.TimeoutError)
    async def _redis_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("api.redis.unavailable", exc_info=exc)
        return _error(503, "the job store (Redis) is not reachable; try again shortly")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("api.error.unexpected", exc_info=exc)
        return _error(500, "internal error; the service logged the details")
