"""Request ids: taken from `X-Request-ID` or made, put in the log context and echoed back.

A plain ASGI middleware: Starlette's BaseHTTPMiddleware would copy every request body through a
stream, which costs uploads a third of their throughput."""

from __future__ import annotations

import itertools
import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modeltrain.logging import request_id_var

# A made id: this process's random prefix and a counter (unique, and a quarter of uuid4's cost
# on a status poll, profiled).
_PROCESS = os.urandom(4).hex()
_COUNTER = itertools.count(1)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
                break
        request_id = request_id or f"{_PROCESS}{next(_COUNTER):08x}"
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
