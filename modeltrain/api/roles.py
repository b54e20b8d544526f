"""Who may call what: the role each /api route needs, in one table.

A key has one role; each role can do what the roles below it can. ``ROUTE_ROLES`` names every
/api route (a test walks the app's routes and fails for one missing here); a path it does not
know needs ``admin``, so a route added without a role is closed rather than open."""

from __future__ import annotations

import re
from enum import StrEnum

from starlette.routing import compile_path


class Role(StrEnum):
    PREDICT = "predict"  # predict (also as batch jobs), list models, read drift
    TRAIN = "train"  # also upload, follow, cancel, finish, retrain and forget jobs; drift windows
    ADMIN = "admin"  # also set and remove aliases, delete versions

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


ROUTE_ROLES: dict[tuple[str, str], Role] = {
    ("GET", "/api/info"): Role.PREDICT,
    ("GET", "/api/models"): Role.PREDICT,
    ("POST", "/api/model-inference/predict"): Role.PREDICT,
    ("POST", "/api/model-train/start"): Role.TRAIN,
    ("GET", "/api/model-train/status"): Role.TRAIN,
    ("GET", "/api/model-train/status/{trackingId}"): Role.TRAIN,
    ("GET", "/api/model-train/events/{trackingId}"): Role.TRAIN,
    ("GET", "/api/model-train/{trackingId}/plots/{name}"): Role.TRAIN,
    ("POST", "/api/model-train/{trackingId}/cancel"): Role.TRAIN,
    ("POST", "/api/model-train/{trackingId}/finish"): Role.TRAIN,
    ("POST", "/api/model-train/{trackingId}/retrain"): Role.TRAIN,
    ("DELETE", "/api/model-train/{trackingId}"): Role.TRAIN,
    ("PUT", "/api/models/{name}/aliases/{alias}"): Role.ADMIN,
    ("DELETE", "/api/models/{name}/aliases/{alias}"): Role.ADMIN,
    ("DELETE", "/api/models/{name}/versions/{version}"): Role.ADMIN,
    ("POST", "/api/model-inference/batch"): Role.PREDICT,
    ("GET", "/api/model-inference/batch/{trackingId}"): Role.PREDICT,
    ("GET", "/api/model-inference/batch/{trackingId}/result"): Role.PREDICT,
    ("GET", "/api/models/{name}/versions/{version}/drift"): Role.PREDICT,
    ("DELETE", "/api/models/{name}/versions/{version}/drift"): Role.TRAIN,
}
UNLISTED_ROLE = Role.ADMIN


class RouteRoles:
    """``ROUTE_ROLES`` as a matcher of (method, path): exact paths by a dict lookup, templated
    ones by their compiled patterns."""

    def __init__(self, table: dict[tuple[str, str], Role] = ROUTE_ROLES) -> None:
        self._exact: dict[tuple[str, str], Role] = {}
        self._patterns: list[tuple[str, re.Pattern[str], Role]] = []
        for (method, path), role in table.items():
            if "{" in path:
                self._patterns.append((method, compile_path(path)[0], role))
            else:
                self._exact[(method, path)] = role

    def needed(self, method: str, path: str) -> Role:
        if method == "HEAD":
            method = "GET"
        role = self._exact.get((method, path))
        if role is not None:
            return role
        for candidate, pattern, role in self._patterns:
            if candidate == method and pattern.match(path):
                return role
        return UNLISTED_ROLE
