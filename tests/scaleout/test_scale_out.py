"""Scale-out on one machine: two API replicas, two workers with their own disks, MLflow on
PostgreSQL with proxied artifacts. The same code paths a multi-host deployment uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from tests.factories import classification_frame, records, slow_frame, to_chunks
from tests.scaleout.cluster import Cluster, postgres_answers

pytestmark = pytest.mark.integration

POSTGRES_URL = os.environ.get(
    "MODELTRAIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CSV = classification_frame(rows=200, seed=51).to_csv(index=False).encode()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not postgres_answers(POSTGRES_URL):
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (.ci/run starts one)")
    from tests.conftest import ARTIFACTS

    cluster = Cluster(tmp_path_factory.mktemp("cluster"), ARTIFACTS / "logs", POSTGRES_URL)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def _post_chunk(client, index, total, part, tracking_id=None, **extra):
    form = {"filename": "alternating.csv", "chunkIndex": str(index), "totalChunks": str(total)}
    form.update({"force": "true", **extra})  # the same file is trained each time
    if tracking_id:
        form["trackingId"] = tracking_id
    answer = client.post("/api/model-train/start", data=form, files={"chunk": ("c", part)})
    assert answer.status_code in (200, 202), answer.text
    return answer.json()


def _wait(client, tracking_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/model-train/status/{tracking_id}").json()
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {tracking_id} did not finish: {job}")


def test_chunks_of_one_upload_may_alternate_between_api_replicas(cluster):
    parts = to_chunks(CSV, 4)
    with cluster.http(0) as a, cluster.http(1) as b:
        clients = [a, b]
        tracking_id = _post_chunk(a, 0, 4, parts[0], timeBudget="2")["trackingId"]
        for index in range(1, 4):
            _post_chunk(clients[index % 2], index, 4, parts[index], tracking_id)
        job = _wait(a, tracking_id)
        assert job["status"] == "completed", job["error"]
        same = b.get(f"/api/model-train/status/{tracking_id}").json()
        assert {k: same[k] for k in ("status", "modelId", "result")} == {
            k: job[k] for k in ("status", "modelId", "result")
        }
        body = {"modelId": job["modelId"], "inputs": records(classification_frame(rows=5, seed=3))}
        from_a = a.post("/api/model-inference/predict", json=body).json()
        from_b = b.post("/api/model-inference/predict", json=body).json()
    assert from_a["predictions"] == from_b["predictions"] and len(from_a["predictions"]) == 5


def test_artifacts_go_through_the_mlflow_server_on_postgresql(cluster):
    with cluster.http(0) as a:
        answer = _post_chunk(a, 0, 1, CSV, timeBudget="2")
        job = _wait(a, answer["trackingId"])
    registry = MlflowClient(tracking_uri=cluster.mlflow_uri, registry_uri=cluster.mlflow_uri)
    run = registry.get_run(job["result"]["runId"])
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    version = registry.get_model_version(job["result"]["modelName"], job["result"]["modelVersion"])
    assert version.status == "READY"
    # No worker or API "host" holds the server's artifacts.
    for host in ("worker-a", "worker-b", "api-a", "api-b"):
        assert not list((cluster.run_dir / host).rglob("MLmodel")), host


def test_a_batch_of_jobs_is_spread_over_both_workers(cluster):
    with cluster.http(0) as a, cluster.http(1) as b:
        ids = [
            _post_chunk([a, b][i % 2], 0, 1, CSV, timeBudget="2")["trackingId"] for i in range(6)
        ]
        jobs = [_wait(a, tracking_id) for tracking_id in ids]
    assert all(job["status"] == "completed" for job in jobs), [j["error"] for j in jobs]
    nodes = {job["worker"].split(":")[0] for job in jobs}
    assert nodes == {n for n in nodes if n.startswith(("worker-a@", "worker-b@"))}
    assert len(nodes) == 2, nodes


def test_workers_are_visible_to_celery_inspect(cluster):
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "modeltrain.worker.app", "inspect", "registered",
         "--timeout", "5"],
        capture_output=True, text=True, timeout=60, env=cluster.env("inspect"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "worker-a@" in result.stdout and "worker-b@" in result.stdout
    assert "modeltrain.train_job" in result.stdout


def test_killing_a_worker_mid_job_leaves_the_job_to_the_other(cluster):
    slow = slow_frame(rows=30_000).to_csv(index=False).encode()
    with cluster.http(1) as b:
        tracking_id = _post_chunk(b, 0, 1, slow, timeBudget="8", target="y")["trackingId"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = b.get(f"/api/model-train/status/{tracking_id}").json()
            if job["stage"] == "training" and job["worker"]:
                break
            time.sleep(0.2)
        victim = job["worker"].split("@")[0]
        survivor = "worker-b" if victim == "worker-a" else "worker-a"
        cluster.workers[victim].stop(timeout=5, sig=signal.SIGKILL)
        done = _wait(b, tracking_id, timeout=180)
        cluster.start_worker(victim).wait_ready(90)
    assert done["status"] == "completed", done["error"]
    assert done["worker"].startswith(f"{survivor}@") and done["attempts"] == 2


def test_a_retrain_reads_the_stored_csv_on_the_other_worker_after_the_bytes_are_freed(cluster):
    import redis

    data = classification_frame(rows=200, seed=52)
    with cluster.http(0) as a:
        first = _wait(a, _post_chunk(a, 0, 1, data.to_csv(index=False).encode(), timeBudget="2")[
            "trackingId"
        ])  # fmt: skip
        assert first["status"] == "completed", first["error"]
        staged = redis.Redis.from_url(cluster.redis_url).keys(f"*upload:{first['trackingId']}:data")
        assert staged == []  # the uploaded bytes were freed when the job ended
        ran_first = first["worker"].split("@")[0]
        other = "worker-b" if ran_first == "worker-a" else "worker-a"
        cluster.workers[ran_first].stop(timeout=30)  # only the other worker is left
        try:
            answer = a.post(
                f"/api/model-train/{first['trackingId']}/retrain",
                json={"target": "income", "timeBudget": 2},
            )
            assert answer.status_code == 202, answer.text
            assert answer.json()["retrainOf"] == first["trackingId"]
            again = _wait(a, answer.json()["trackingId"])
        finally:
            cluster.start_worker(ran_first).wait_ready(90)
    assert again["status"] == "completed", again["error"]
    assert again["retrainOf"] == first["trackingId"] and again["worker"].startswith(f"{other}@")
    assert again["result"]["target"] == "income" and again["result"]["task"] == "regression"
    assert again["result"]["rows"] == first["result"]["rows"]
    assert again["options"]["sourceRunId"] == first["result"]["runId"]


def _predict_status(client, model_id: str) -> int:
    body = {"modelId": model_id, "inputs": records(classification_frame(rows=3, seed=4))}
    return client.post("/api/model-inference/predict", json=body).status_code


def _until(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.1)


def test_an_alias_serves_on_both_replicas_and_a_deleted_version_is_gone_from_both(cluster):
    with cluster.http(0) as a, cluster.http(1) as b:
        job = _wait(a, _post_chunk(a, 0, 1, CSV, timeBudget="2", modelName="everywhere")[
            "trackingId"
        ])  # fmt: skip
        assert job["status"] == "completed", job["error"]
        model_id, version = job["modelId"], job["result"]["modelVersion"]
        for replica in (a, b):  # both load and cache the version
            assert _predict_status(replica, model_id) == 200
        set_alias = a.put("/api/models/everywhere/aliases/staging", json={"version": version})
        assert set_alias.status_code == 200, set_alias.text
        assert _predict_status(a, "models:/everywhere@staging") == 200  # at once where set
        _until(lambda: _predict_status(b, "models:/everywhere@staging") == 200)
        assert a.delete("/api/models/everywhere/aliases/staging").status_code == 200
        assert _predict_status(a, "models:/everywhere@staging") == 404  # at once where removed
        _until(lambda: _predict_status(b, "models:/everywhere@staging") == 404)
        assert a.put("/api/models/everywhere/aliases/staging", json={"version": version}).is_success

        refused = b.delete(f"/api/models/everywhere/versions/{version}")
        assert refused.status_code == 409 and set(refused.json()["aliases"]) >= {"staging"}
        assert _predict_status(a, model_id) == 200  # a refusal changes nothing
        gone = b.delete(f"/api/models/everywhere/versions/{version}", params={"force": "true"})
        assert gone.status_code == 200, gone.text
        assert "staging" in gone.json()["removedAliases"]
        for replica in (b, a):
            _until(lambda r=replica: _predict_status(r, model_id) == 404)
            assert _predict_status(replica, "models:/everywhere@staging") == 404
