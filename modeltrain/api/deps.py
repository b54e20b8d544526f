"""FastAPI dependencies."""

from __future__ import annotations

from fastapi import Request

from modeltrain.api.services import Services


async def get_services(request: Request) -> Services:
    return request.app.state.services
