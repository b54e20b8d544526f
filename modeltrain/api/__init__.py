"""The HTTP API: app factory, dependencies, error handlers, one router per resource."""

from modeltrain.api.app import create_app

__all__ = ["create_app"]
