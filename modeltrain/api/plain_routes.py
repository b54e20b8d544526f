"""Hot routes served by plain Starlette routes ahead of FastAPI's router.

Measured (bench/service.py, bench/inference.py): FastAPI's per-request machinery (route
matching through the included routers, dependency solving, response validation) took about a
quarter of a status poll's time and of a single-row prediction's. Such a route is the only
handler of its path: it carries its own OpenAPI operation, which ``document_plain_routes``
adds to the app's schema. It takes no FastAPI dependencies; what must cover every route (the API
key, request ids, metrics, size limits) is ASGI middleware, and the app's error handlers apply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

JSON_ANSWER = {
    "200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}}
}


class PlainRoute(Route):
    """A Starlette route with its OpenAPI operation that, like FastAPI's routes, leaves itself in
    ``scope["route"]`` (the metrics middleware labels requests by its path template)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[[Request], Awaitable[Response]],
        method: str,
        operation: dict[str, Any],
    ) -> None:
        super().__init__(path, endpoint, methods=[method], include_in_schema=False)
        self.method = method
        self.operation = {"responses": JSON_ANSWER, **operation}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


def install_ahead(
    app: FastAPI,
    path: str,
    endpoint: Callable[[Request], Awaitable[Response]],
    method: str,
    operation: dict[str, Any],
) -> None:
    app.router.routes.insert(0, PlainRoute(path, endpoint, method, operation))


def document_plain_routes(app: FastAPI) -> None:
    """The app's OpenAPI schema, with the operation of each plain route added to it."""
    make_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = make_schema()  # FastAPI's, cached on the app
            for route in app.router.routes:
                if isinstance(route, PlainRoute):
                    paths = schema.setdefault("paths", {})
                    paths.setdefault(route.path, {})[route.method.lower()] = route.operation
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
