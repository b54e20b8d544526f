"""MODELTRAIN_API_KEY and CORS, on an app talking to the real Redis and MLflow server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from modeltrain.api import create_app
from modeltrain.config import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def secured(redis_server, mlflow_server):
    settings = Settings(
        _env_file=None,
        redis_url=redis_server.url,
        redis_prefix=f"{redis_server.prefix}-sec",
        mlflow_tracking_uri=mlflow_server,
        api_key="s3cret",
        cors_origins=["http://ui.example"],
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/model-train/status"),
        ("GET", "/api/model-train/status/x"),
        ("POST", "/api/model-train/start"),
        ("POST", "/api/model-train/x/cancel"),
        ("POST", "/api/model-inference/predict"),
        ("GET", "/api/models"),
    ],
)
def test_every_api_route_wants_the_key(secured, method, path):
    missing = secured.request(method, path)
    wrong = secured.request(method, path, headers={"Authorization": "Bearer nope"})
    for answer in (missing, wrong):
        assert answer.status_code == 401 and "API key" in answer.json()["error"]
        assert answer.headers["www-authenticate"] == "Bearer"


def test_the_right_key_opens_the_api_and_health_needs_none(secured):
    ok = secured.get("/api/model-train/status", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json() == []
    assert secured.get("/healthz").status_code == 200


def test_cors_allows_only_the_configured_origins(secured):
    allowed = secured.options(
        "/api/models",
        headers={"Origin": "http://ui.example", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.headers["access-control-allow-origin"] == "http://ui.example"
    other = secured.options(
        "/api/models",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in other.headers
