"""Hot routes served by plain Starlette routes ahead of FastAPI's router.

Measured (bench/service.py, bench/inference.py): FastAPI's per-request machinery (route
matching through the included routers, dependency solving, response validation) took about a
quarter of a status poll's time and of a single-row prediction's. The FastAPI routes stay for the
OpenAPI schema and answer the same way (they call the same endpoint); the app's middleware and
error handlers apply to both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send


class _PlainRoute(Route):
    """A Starlette route that, like FastAPI's, leaves itself in ``scope["route"]`` (the metrics
    middleware labels requests by its path template)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


def install_ahead(
    app: FastAPI, path: str, endpoint: Callable[[Request], Awaitable[Response]], method: str
) -> None:
    app.router.routes.insert(
        0, _PlainRoute(path, endpoint, methods=[method], include_in_schema=False)
    )
