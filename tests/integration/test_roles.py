"""Keys with roles (MODELTRAIN_API_KEYS, MODELTRAIN_API_KEY) on a real API process: every /api
route of the app answers each kind of caller as the role table says."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.routing import APIRoute

from modeltrain.api import create_app
from modeltrain.api.auth import key_digest
from modeltrain.api.plain_routes import PlainRoute
from modeltrain.api.roles import ROUTE_ROLES, Role
from modeltrain.config import Settings
from modeltrain.runtime.processes import free_port
from modeltrain.runtime.stack import api_process

pytestmark = pytest.mark.integration

KEYS = {"predict": "key-of-predict-x1", "train": "key-of-train-y2", "admin": "key-of-admin-z3"}
SINGLE_ADMIN_KEY = "the-old-single-key"


def _walk(routes: list, prefix: str = "") -> set[tuple[str, str]]:
    """Every (method, path) of these routes, into included routers."""
    found = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's included router
            found |= _walk(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute | PlainRoute):
            found |= {(m, prefix + route.path) for m in route.methods or () if m != "HEAD"}
    return found


def _app_routes() -> set[tuple[str, str]]:
    """Every (method, path) under /api that the app serves."""
    app = create_app(Settings(_env_file=None))
    return {(method, path) for method, path in _walk(app.routes) if path.startswith("/api")}


def test_every_api_route_has_a_role_and_the_table_names_no_other():
    assert _app_routes() == set(ROUTE_ROLES)


@pytest.fixture(scope="module")
def keyed_api(stack):
    from tests.conftest import ARTIFACTS

    log_path = ARTIFACTS / "logs" / "api-roles.log"
    env = {
        **stack.env,
        "MODELTRAIN_API_KEYS": json.dumps({key_digest(k): role for role, k in KEYS.items()}),
        "MODELTRAIN_API_KEY": SINGLE_ADMIN_KEY,
    }
    port = free_port()
    api = api_process(env, "127.0.0.1", port, log_path)
    api.start().wait_ready(60)
    try:
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        api.stop()


def _concrete(path: str) -> str:
    """A path template with made-up values: the route answers 404/422, never 401/403."""
    return (
        path.replace("{trackingId}", "no-such-job")
        .replace("{name}", "no-such-model")
        .replace("{alias}", "someday")
        .replace("{version}", "9")
    )


CALLERS = [None, "unknown-key", *KEYS]


@pytest.mark.parametrize(("method", "path"), sorted(ROUTE_ROLES))
def test_each_route_answers_each_caller_as_its_role_says(keyed_api, method, path):
    url, _ = keyed_api
    needed = ROUTE_ROLES[(method, path)]
    with httpx.Client(base_url=url, timeout=30) as client:
        for caller in CALLERS:
            headers = {"Authorization": f"Bearer {KEYS[caller]}"} if caller in KEYS else {}
            if caller == "unknown-key":
                headers = {"Authorization": "Bearer not-a-key-we-know"}
            answer = client.request(method, _concrete(path), headers=headers, json={"x": 1})
            assert answer.headers["content-type"].startswith("application/json"), answer.text
            if caller not in KEYS:
                assert answer.status_code == 401, (caller, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer"
            elif not Role(caller).allows(needed):
                assert answer.status_code == 403, (caller, answer.text)
                body = answer.json()
                assert body["requiredRole"] == needed.value and repr(needed.value) in body["error"]
            else:
                assert answer.status_code not in (401, 403), (caller, answer.text)


def test_the_single_admin_key_still_works_and_no_key_reaches_the_log(keyed_api):
    url, log_path = keyed_api
    with httpx.Client(base_url=url, timeout=30) as client:
        admin = {"Authorization": f"Bearer {SINGLE_ADMIN_KEY}"}
        assert client.get("/api/model-train/status", headers=admin).status_code == 200
        gone = client.delete("/api/models/no-such-model/versions/1", headers=admin)
        assert gone.status_code == 404, gone.text
        predict_only = {"Authorization": f"Bearer {KEYS['predict']}"}
        assert client.get("/api/models", headers=predict_only).status_code == 200
        refused = client.get("/api/model-train/status", headers=predict_only)
        assert refused.status_code == 403 and refused.json()["requiredRole"] == "train"
        assert client.get("/healthz").status_code == 200  # health needs no key
    logged = log_path.read_text()
    for key in [*KEYS.values(), SINGLE_ADMIN_KEY]:
        assert key not in logged and key_digest(key) not in logged
