"""A Python client of the HTTP API (used by the `modeltrain` command line)."""

from modeltrain.client.http import ServiceClient, ServiceError

__all__ = ["ServiceClient", "ServiceError"]
