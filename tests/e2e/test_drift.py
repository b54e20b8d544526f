"""Drift on real processes: served rows counted against the version's training profile (logged
in MLflow), across two API replicas, a shifted column found, windows restarted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from modeltrain.runtime.processes import free_port
from modeltrain.runtime.stack import api_process
from tests.factories import classification_frame, records
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(stack) -> dict:
    csv = classification_frame(rows=400, seed=81).to_csv(index=False).encode()
    with stack.http() as client:
        job = wait_for_job(client, upload(client, csv, modelName="drifty", timeBudget=1)[0].json()[
            "trackingId"
        ])  # fmt: skip
    assert job["status"] == "completed", job["error"]
    return job


@pytest.fixture(scope="module")
def second_api(stack):
    from tests.conftest import ARTIFACTS

    port = free_port()
    api = api_process(stack.env, "127.0.0.1", port, ARTIFACTS / "logs" / "api-drift.log")
    api.start().wait_ready(60)
    yield f"http://127.0.0.1:{port}"
    api.stop()


def _served(seed: int, rows: int = 600, income_shift: float = 0.0) -> list[dict]:
    frame = classification_frame(rows=rows, seed=seed).drop(columns=["churn"])
    frame["income"] = frame["income"] + income_shift
    return records(frame)


def _predict(client: httpx.Client, model_id: str, rows: list[dict]) -> None:
    for start in range(0, len(rows), 100):
        answer = client.post(
            "/api/model-inference/predict",
            json={"modelId": model_id, "inputs": rows[start : start + 100]},
        )
        assert answer.status_code == 200, answer.text


def _report(client: httpx.Client, path: str, rows: int, timeout: float = 30) -> dict:
    """The drift report once it counts ``rows`` rows (other replicas flush once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        report = client.get(path).json()
        if report["rows"] >= rows:
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.2)


def test_rows_like_the_training_rows_do_not_drift_and_a_shifted_column_does(stack, trained):
    path = f"/api/models/drifty/versions/{trained['result']['modelVersion']}/drift"
    with stack.http() as client:
        fresh = client.delete(path)
        assert fresh.status_code == 200 and fresh.json()["rows"] == 0
        _predict(client, trained["modelId"], _served(seed=82))
        report = _report(client, path, 600)
        assert report["rows"] == 600 and report["drifted"] == [], report["columns"]
        assert {c["column"] for c in report["columns"]} == {"age", "income", "city"}

        assert client.delete(path).json()["rows"] == 0  # a new window
        _predict(client, trained["modelId"], _served(seed=83, income_shift=40_000))
        shifted = _report(client, path, 600)
        assert shifted["drifted"] == ["income"], shifted["columns"]
        income = next(c for c in shifted["columns"] if c["column"] == "income")
        assert income["psi"] > 0.2 and income["outsideTrainingShare"] > 0.1
        metrics = client.get("/metrics").text
    assert 'modeltrain_drift_psi{column="income",model="drifty"' in metrics


def test_two_replicas_add_up_and_the_profile_comes_from_mlflow(
    stack, trained, second_api, tmp_path
):
    version = trained["result"]["modelVersion"]
    path = f"/api/models/drifty/versions/{version}/drift"
    with stack.http() as a, httpx.Client(base_url=second_api, timeout=60) as b:
        assert a.delete(path).status_code == 200
        _predict(a, trained["modelId"], _served(seed=84, rows=300))
        _predict(b, trained["modelId"], _served(seed=85, rows=300))
        from_a = _report(a, path, 600)
        from_b = _report(b, path, 600)
    assert from_a["rows"] == from_b["rows"] == 600
    registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
    artifact = registry.download_artifacts(
        trained["result"]["runId"], "report/profile.json", tmp_path
    )
    logged = json.loads(Path(artifact).read_text())
    assert [c["name"] for c in logged["columns"]] == [c["column"] for c in from_b["columns"]]
    for column, reported in zip(logged["columns"], from_b["columns"], strict=True):
        assert [b["training"] for b in reported["bins"]] == column["shares"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/models/drifty/versions/999/drift", 404),
        ("/api/models/no-such-model/versions/1/drift", 404),
        ("/api/models/drifty/versions/first/drift", 422),
    ],
)
def test_drift_of_an_unknown_version_is_refused(stack, trained, path, status):
    with stack.http() as client:
        assert client.get(path).status_code == status
        assert client.delete(path).status_code == status


def test_an_api_told_not_to_count_drift_counts_nothing(stack, trained):
    from tests.conftest import ARTIFACTS

    version = trained["result"]["modelVersion"]
    path = f"/api/models/drifty/versions/{version}/drift"
    port = free_port()
    env = {**stack.env, "MODELTRAIN_DRIFT_COUNTING": "false"}
    api = api_process(env, "127.0.0.1", port, ARTIFACTS / "logs" / "api-no-drift.log")
    api.start().wait_ready(60)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as quiet:
            assert quiet.delete(path).json()["rows"] == 0
            _predict(quiet, trained["modelId"], _served(seed=86, rows=200))
            assert quiet.get(path).json()["rows"] == 0  # its own rows were not counted
    finally:
        api.stop()  # a stopping API flushes what it counted: nothing here
    with stack.http() as client:
        assert client.get(path).json()["rows"] == 0
