"""API keys with roles, checked for every /api route by a plain ASGI middleware (cheaper per
request than a FastAPI dependency on the hot status-poll path).

Keys are known only by their SHA-256 (``MODELTRAIN_API_KEYS``: hex digest -> role;
``MODELTRAIN_API_KEY`` is one admin key). A request's key is hashed and compared with every
known digest in constant time; neither the key nor its digest is ever logged. The caller
(role, and the first 12 hex digits of the key's digest as its id) is left in
``scope["state"]["caller"]`` for routes that record who did something."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from modeltrain.api.roles import Role, RouteRoles
from modeltrain.config import Settings

KEY_ID_CHARS = 12


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    role: Role
    key_id: str | None  # None when the service has no keys (everyone is admin)

    @property
    def label(self) -> str:
        return f"api key {self.key_id} ({self.role})" if self.key_id else "anonymous (no keys set)"


OPEN_CALLER = Caller(Role.ADMIN, None)


class AccessKeys:
    def __init__(self, digests: dict[str, Role]) -> None:
        self._digests = [(bytes.fromhex(d), role) for d, role in digests.items()]

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessKeys:
        digests = {d: Role(role) for d, role in settings.api_keys.items()}
        if settings.api_key:
            digests[key_digest(settings.api_key)] = Role.ADMIN
        return cls(digests)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def caller(self, key: bytes) -> Caller | None:
        """The caller a key belongs to, or None; every known digest is compared."""
        if not key:
            return None
        digest = hashlib.sha256(key).digest()
        found = None
        for known, role in self._digests:
            if secrets.compare_digest(digest, known):
                found = Caller(role, digest.hex()[:KEY_ID_CHARS])
        return found


def _refusal(status: int, message: str, **extra: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"error": message, **extra})


_MISSING = _refusal(401, "missing or unknown API key: send 'Authorization: Bearer <key>'")


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: AccessKeys, prefix: str = "/api") -> None:
        self.app = app
        self.keys = keys
        self.roles = RouteRoles()
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith(self.prefix)
            or scope["method"] == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        caller = self.keys.caller(_bearer(scope)) if self.keys else OPEN_CALLER
        if caller is None:
            await _send(send, *_MISSING)
            return
        needed = self.roles.needed(scope["method"], scope["path"])
        if not caller.role.allows(needed):
            refusal = _refusal(
                403,
                f"this key has the role {caller.role.value!r}; {scope['method']} "
                f"{scope['path']} needs {needed.value!r}",
                requiredRole=needed.value,
            )
            await _send(send, *refusal)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else b""
    return b""


async def _send(send: Send, status: int, body: bytes) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def caller_of(scope: Scope) -> Caller:
    """Who made this request (set by the middleware; open services have one anonymous admin)."""
    return scope.get("state", {}).get("caller", OPEN_CALLER)
