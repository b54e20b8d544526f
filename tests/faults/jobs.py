"""Jobs the fault tests start and watch, shared by the hand-made stack and `modeltrain up`."""

from __future__ import annotations

import time

import httpx
from mlflow import MlflowClient

from tests.factories import classification_frame, slow_frame
from tests.helpers import upload

SLOW_CSV = slow_frame(rows=30_000).to_csv(index=False).encode()
QUICK_CSV = classification_frame(rows=150).to_csv(index=False).encode()


def status_of(client: httpx.Client, tracking_id: str) -> dict:
    answer = client.get(f"/api/model-train/status/{tracking_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(client: httpx.Client, tracking_id: str, predicate, timeout: float = 60) -> dict:
    """Poll the job until ``predicate(status)`` holds; returns that status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = status_of(client, tracking_id)
        if predicate(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout} s: {body}")


def start_slow_job(client: httpx.Client, name: str, budget: int = 10) -> str:
    """A job in the middle of its search: a candidate scored, more being fitted."""
    answers = upload(client, SLOW_CSV, filename=f"{name}.csv", timeBudget=budget, target="y")
    assert answers[-1].status_code == 202, answers[-1].text
    tracking_id = answers[0].json()["trackingId"]
    wait_for(client, tracking_id, lambda b: b["stage"] == "training" and b.get("bestScore"))
    return tracking_id


def versions_of(mlflow_uri: str, tracking_id: str) -> list:
    """The registered versions a job made."""
    client = MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    return client.search_model_versions(f"tags.`modeltrain.trackingId` = '{tracking_id}'")
