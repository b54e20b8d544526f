"""Every /api path and method has exactly one handler, and the OpenAPI schema documents exactly
the handlers there are: a FastAPI twin of a fast plain route (whose dependencies would silently
never run) cannot come back unnoticed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from starlette.routing import BaseRoute, Route

from modeltrain.api.app import create_app
from modeltrain.api.plain_routes import PlainRoute
from modeltrain.config import Settings


def _handlers(routes: Iterable[BaseRoute]) -> Iterator[Route]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            yield from _handlers(included.routes)
        elif isinstance(route, Route):
            yield route


def _api_operations(app) -> Counter:
    return Counter(
        (route.path, method)
        for route in _handlers(app.router.routes)
        if route.path.startswith("/api/")
        for method in (route.methods or set()) - {"HEAD"}
    )


def test_every_api_path_and_method_has_one_handler_and_is_documented_once():
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))
    operations = _api_operations(app)
    assert operations and max(operations.values()) == 1, operations.most_common(3)
    documented = {
        (path, method.upper())
        for path, methods in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in methods
    }
    assert documented == set(operations)


def test_the_upload_route_documents_every_training_option():
    from modeltrain.training_options import TRAINING

    schema = create_app(Settings(redis_url="redis://127.0.0.1:1/0")).openapi()
    body = schema["paths"]["/api/model-train/start"]["post"]["requestBody"]["content"]
    name = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = schema["components"]["schemas"][name]["properties"]
    assert {o.field for o in TRAINING} <= set(fields) and "chunkIndex" in fields
    assert fields["metric"]["enum"][:2] == ["roc_auc", "log_loss"]


def test_the_hot_routes_are_plain_routes_ahead_of_the_router():
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"))
    first_two = app.router.routes[:2]
    assert all(isinstance(route, PlainRoute) for route in first_two)
    assert {route.path for route in first_two} == {
        "/api/model-train/status/{trackingId}",
        "/api/model-inference/predict",
    }
