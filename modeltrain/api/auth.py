"""API key check for every /api route, as a plain ASGI middleware (cheaper per request than a
FastAPI dependency on the hot status-poll path)."""

from __future__ import annotations

import secrets

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

_REFUSAL = orjson.dumps({"error": "missing or wrong API key: send 'Authorization: Bearer <key>'"})


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str, prefix: str = "/api") -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(self.prefix)
            and scope["method"] != "OPTIONS"
            and not self._authorised(scope)
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b"Bearer"),
                        (b"content-length", str(len(_REFUSAL)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _REFUSAL})
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                given = b"Bearer " + token.strip() if scheme.lower() == b"bearer" else b""
                return secrets.compare_digest(given, self.expected)
        return False
