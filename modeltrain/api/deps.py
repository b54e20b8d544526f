"""FastAPI dependencies."""

from __future__ import annotations

import secrets

from fastapi import Request

from modeltrain.api.services import Services
from modeltrain.exceptions import Unauthorized


def get_services(request: Request) -> Services:
    return request.app.state.services


def require_api_key(request: Request) -> None:
    """When MODELTRAIN_API_KEY is set, every /api route wants `Authorization: Bearer <key>`."""
    expected = request.app.state.settings.api_key
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), expected):
        raise Unauthorized("missing or wrong API key: send 'Authorization: Bearer <key>'")
