"""Inference on real processes: versions and aliases, warming, every input format, /metrics,
and the same registered model served by `mlflow models serve`."""

from __future__ import annotations

import io
import os
import re
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from modeltrain.config import child_environment
from modeltrain.runtime.processes import ManagedProcess, free_port, http_ok
from tests.factories import classification_frame, records
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_versions(stack) -> list[dict]:
    """Two versions of one model name, trained on different data."""
    jobs = []
    with stack.http() as client:
        for seed in (11, 12):
            data = classification_frame(rows=200, seed=seed).to_csv(index=False).encode()
            answers = upload(client, data, filename="infer.csv", timeBudget=2)
            jobs.append(wait_for_job(client, answers[0].json()["trackingId"]))
    assert all(job["status"] == "completed" for job in jobs), jobs
    return jobs


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = (
        rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} ([0-9.e+-]+)$"
        if labels
        else (rf"^{re.escape(name)} ([0-9.e+-]+)$")
    )
    match = re.search(pattern, text, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0


ROWS = records(classification_frame(rows=20, seed=99).drop(columns=["churn"]))


def test_versions_and_aliases_resolve_and_an_alias_moves_after_its_ttl(stack, two_versions):
    v1, v2 = (job["modelId"] for job in two_versions)
    name = two_versions[0]["result"]["modelName"]
    registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
    registry.set_registered_model_alias(name, "champion", v1.rsplit("/", 1)[1])
    with stack.http() as client:

        def predict(model_id):
            answer = client.post(
                "/api/model-inference/predict", json={"modelId": model_id, "inputs": ROWS}
            )
            assert answer.status_code == 200, answer.text
            return answer.json()

        by_alias = predict(f"models:/{name}@champion")
        assert by_alias["modelId"] == v1
        assert by_alias["predictions"] == predict(v1)["predictions"]
        assert predict(v2.removeprefix("models:/"))["modelId"] == v2
        registry.set_registered_model_alias(name, "champion", v2.rsplit("/", 1)[1])
        time.sleep(1.2)  # the stack's alias TTL is 1 s
        assert predict(f"models:/{name}@champion")["modelId"] == v2


def test_a_new_version_is_loaded_before_anyone_asks_for_it(stack):
    with stack.http() as client:
        before = _metric(
            client.get("/metrics").text, "modeltrain_model_cache_events_total", event="load"
        )
        data = classification_frame(rows=150, seed=21).to_csv(index=False).encode()
        job = wait_for_job(
            client, upload(client, data, filename="warm.csv", timeBudget=2)[0].json()["trackingId"]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            loads = _metric(
                client.get("/metrics").text, "modeltrain_model_cache_events_total", event="load"
            )
            if loads > before:
                break
            time.sleep(0.1)
        assert loads == before + 1, "the new version was not warmed"
        started = time.perf_counter()
        first = client.post(
            "/api/model-inference/predict", json={"modelId": job["modelId"], "inputs": ROWS[:1]}
        )
        assert first.status_code == 200
        assert time.perf_counter() - started < 1.0
        after = _metric(
            client.get("/metrics").text, "modeltrain_model_cache_events_total", event="load"
        )
    assert after == loads, "the first prediction loaded the model again"


def test_csv_in_and_csv_out(stack, two_versions):
    model_id = two_versions[0]["modelId"]
    frame = classification_frame(rows=20, seed=99).drop(columns=["churn"])
    with stack.http() as client:
        as_json = client.post(
            "/api/model-inference/predict", json={"modelId": model_id, "inputs": ROWS}
        ).json()
        answer = client.post(
            "/api/model-inference/predict",
            params={"modelId": model_id, "probabilities": "true"},
            content=frame.to_csv(index=False).encode(),
            headers={"content-type": "text/csv", "accept": "text/csv"},
        )
        no_model = client.post(
            "/api/model-inference/predict",
            content=frame.to_csv(index=False).encode(),
            headers={"content-type": "text/csv"},
        )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(answer.text))
    assert list(table.columns) == ["prediction", "proba_no", "proba_yes"]
    assert list(table["prediction"]) == as_json["predictions"]
    assert no_model.status_code == 422 and "modelId" in no_model.json()["error"]


def test_metrics_report_latency_predictions_cache_and_jobs(stack, two_versions):
    model_id = two_versions[1]["modelId"]
    label = model_id.removeprefix("models:/")
    with stack.http() as client:
        before = _metric(client.get("/metrics").text, "modeltrain_predictions_total", model=label)
        client.post("/api/model-inference/predict", json={"modelId": model_id, "inputs": ROWS})
        client.get(f"/api/model-train/status/{two_versions[1]['trackingId']}")
        text = client.get("/metrics").text
    assert _metric(text, "modeltrain_predictions_total", model=label) == before + len(ROWS)
    assert f'modeltrain_predict_duration_seconds_count{{model="{label}"}}' in text
    assert 'route="/api/model-inference/predict"' in text
    assert 'route="/api/model-train/status/{trackingId}"' in text
    assert _metric(text, "modeltrain_jobs", status="completed") >= 2
    assert _metric(text, "modeltrain_model_cache_events_total", event="hit") >= 1


def test_mlflow_models_serve_serves_our_model_unmodified(stack, two_versions, tmp_path):
    model_id = two_versions[0]["modelId"]
    port = free_port()
    serve = ManagedProcess(
        "mlflow-serve",
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            model_id,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],  # fmt: skip
        # `mlflow models serve` runs `uvicorn` from PATH: the one beside this Python.
        env=child_environment(
            MLFLOW_TRACKING_URI=stack.mlflow_uri,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        ),
        log_path=Path(tmp_path) / "serve.log",
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/ping"),
    )
    serve.start()
    try:
        serve.wait_ready(120)
        columns = list(ROWS[0])
        data = [[float(r["age"]), r["income"], r["city"]] for r in ROWS]  # age: double
        theirs = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            json={"dataframe_split": {"columns": columns, "data": data}},
            timeout=30,
        )
        assert theirs.status_code == 200, theirs.text
        with stack.http() as client:
            ours = client.post(
                "/api/model-inference/predict", json={"modelId": model_id, "inputs": ROWS}
            ).json()
        assert theirs.json()["predictions"] == ours["predictions"]
    finally:
        serve.stop()


def test_forgetting_a_completed_job_keeps_its_model(stack, two_versions):
    """Last in this module: it forgets one of the fixture's jobs."""
    job = two_versions[1]
    with stack.http() as client:
        assert client.delete(f"/api/model-train/{job['trackingId']}").status_code == 200
        assert client.get(f"/api/model-train/status/{job['trackingId']}").status_code == 404
        answer = client.post(
            "/api/model-inference/predict", json={"modelId": job["modelId"], "inputs": ROWS}
        )
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == len(ROWS)
