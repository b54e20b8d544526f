"""`modeltrain up` as a supervisor, started as a user starts it: each of its processes is
SIGKILLed in turn and comes back, the others keep answering, and no job is lost."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.factories import classification_frame, records, to_chunks
from tests.faults.jobs import (
    QUICK_CSV,
    start_slow_job,
    status_of,
    versions_of,
    wait_for,
)
from tests.faults.up import Up, process_groups_alive
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration

LEASE_SECONDS = 6  # a lost worker's job is noticed within seconds
# Lease + a reaper round + the job's own training, loading and logging, + a worker's start.
JOB_DEADLINE = 120


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    from tests.conftest import ARTIFACTS

    service = Up(
        tmp_path_factory.mktemp("up"),
        ARTIFACTS / "logs" / "up.log",
        MODELTRAIN_REDIS_PREFIX="mt-up",
        MODELTRAIN_LEASE_SECONDS=str(LEASE_SECONDS),
        MODELTRAIN_TRAIN_THREADS="1",
        MODELTRAIN_DEFAULT_TIME_BUDGET="3",
        MODELTRAIN_MLFLOW_REQUEST_TIMEOUT="5",
        MODELTRAIN_MLFLOW_REQUEST_RETRIES="2",
        MODELTRAIN_REDIS_APPENDFSYNC="always",  # not the default: the test sees it applied
    ).start()
    try:
        yield service
    finally:
        if service.proc is not None and service.proc.poll() is None:
            service.stop()


def test_a_killed_worker_is_started_again_and_its_job_completes_while_the_api_answers(up):
    with up.http() as client:
        tracking_id = start_slow_job(client, "worker-killed", budget=8)
        up.kill("worker")
        up.wait_until(lambda: up.child("worker").get("restarts") == 1, 10, "worker exit seen")
        ready = client.get("/readyz")
        worker = ready.json()["processes"]["worker"]
        assert ready.status_code == 503, ready.text
        assert worker.endswith("(1st time, last exit -9)"), worker

        # The API answers all along; the job's progress never goes down; it completes once.
        progress = []
        deadline = time.monotonic() + JOB_DEADLINE
        while (body := status_of(client, tracking_id))["status"] not in ("completed", "failed"):
            progress.append(body["progress"])
            assert time.monotonic() < deadline, f"the job did not finish: {body}"
            time.sleep(0.2)
        assert body["status"] == "completed", body["error"]
        assert progress == sorted(progress)
        assert body["attempts"] == 2
        assert len(versions_of(up.mlflow_uri, tracking_id)) == 1

        up.wait_restarted("worker", 1)
        assert client.get("/readyz").status_code == 200
        after = upload(client, QUICK_CSV, filename="after-worker-killed.csv")
        assert wait_for_job(client, after[0].json()["trackingId"])["status"] == "completed"


def _send_retrying(client: httpx.Client, form: dict, chunk: bytes, timeout: float = 60):
    """A chunk sent as a client does while the API restarts: again until it is answered."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.post(
                "/api/model-train/start", data=form, files={"chunk": ("c.csv", chunk, "text/csv")}
            )
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the API did not come back"
            time.sleep(0.2)


def test_a_killed_api_comes_back_and_an_upload_in_flight_finishes(up):
    chunks = to_chunks(QUICK_CSV, 3)
    form = {"filename": "api-killed.csv", "totalChunks": "3"}
    with up.http() as client:
        first = _send_retrying(client, {**form, "chunkIndex": "0", "force": "true"}, chunks[0])
        assert first.status_code == 200, first.text
        tracking_id = first.json()["trackingId"]
        up.kill("api")
        for index in (1, 2):
            form_i = {**form, "chunkIndex": str(index), "trackingId": tracking_id}
            answer = _send_retrying(client, form_i, chunks[index])
            assert answer.status_code in (200, 202), answer.text
        assert answer.status_code == 202
        job = wait_for_job(client, tracking_id)
    assert job["status"] == "completed", job["error"]
    assert up.child("api")["restarts"] == 1


def test_a_killed_idle_mlflow_server_comes_back_with_every_model(up):
    inputs = records(classification_frame(rows=3, seed=5).drop(columns=["churn"]))
    with up.http() as client:
        before = client.get("/api/models").json()
        classifier = next(m for m in before if m["name"].startswith("api-killed"))
        up.kill("mlflow")
        up.wait_restarted("mlflow", 1)
        after = client.get("/api/models").json()
        predicted = client.post(
            "/api/model-inference/predict",
            json={"modelId": classifier["versions"][0]["modelId"], "inputs": inputs},
        )
    assert after == before
    assert predicted.status_code == 200, predicted.text
    assert len(predicted.json()["predictions"]) == 3


def test_mlflow_killed_while_a_job_logs_ends_the_job_with_a_reason(up):
    with up.http() as client:
        tracking_id = upload(client, QUICK_CSV, filename="mlflow-killed.csv", timeBudget=2)[0]
        tracking_id = tracking_id.json()["trackingId"]
        wait_for(client, tracking_id, lambda b: b["stage"] != "queued" or b["status"] != "pending")
        up.kill("mlflow")
        job = wait_for_job(client, tracking_id, timeout=JOB_DEADLINE)
        up.wait_restarted("mlflow", 2)
    if job["status"] == "failed":
        assert "MLflow" in job["error"], job["error"]
    else:
        assert job["status"] == "completed"
        assert len(versions_of(up.mlflow_uri, tracking_id)) == 1


def test_a_killed_redis_comes_back_with_finished_and_queued_jobs(up):
    with up.http() as client:
        done = upload(client, QUICK_CSV, filename="before-redis-killed.csv")[0].json()
        assert wait_for_job(client, done["trackingId"])["status"] == "completed"
        busy = start_slow_job(client, "busy-while-redis-killed", budget=6)
        queued = upload(client, QUICK_CSV, filename="queued-while-redis-killed.csv")
        queued_id = queued[-1].json()["trackingId"]
        assert status_of(client, queued_id)["stage"] == "queued"
        up.kill("redis")
        up.wait_restarted("redis", 1)
        restarted = redis.Redis.from_url(up.redis_url, decode_responses=True)
        # as MODELTRAIN_REDIS_APPENDFSYNC says
        assert restarted.config_get("appendfsync") == {"appendfsync": "always"}
        assert status_of(client, done["trackingId"])["status"] == "completed"
        for tracking_id in (busy, queued_id):
            job = wait_for_job(client, tracking_id, timeout=JOB_DEADLINE)
            assert job["status"] == "completed", job["error"]


def test_a_worker_that_dies_at_every_start_backs_off_and_up_stays_up(up, tmp_path):
    from tests.conftest import ARTIFACTS

    # Redis and MLflow of the module's `up`; a worker setting that fails only the worker.
    broken = Up(
        tmp_path,
        ARTIFACTS / "logs" / "up-broken-worker.log",
        redis_url=up.redis_url,
        mlflow_uri=up.mlflow_uri,
        MODELTRAIN_REDIS_PREFIX="mt-up-broken",
        MODELTRAIN_WORKER_POOL="gevent",  # not installed: the worker exits at its start
    ).start()
    try:
        broken.wait_until(
            lambda: broken.child("worker").get("restarts", 0) >= 3, 90, "three restarts"
        )
        worker = broken.child("worker")
        assert worker["backoff"] >= 4  # 1 s, 2 s, 4 s …
        with broken.http() as client:
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "time, last exit 1)" in ready.json()["processes"]["worker"]
        assert set(broken.state()["children"]) == {"worker", "api"}
    finally:
        assert broken.stop() == 0
    said = broken.log_path.read_text()
    assert "the worker keeps exiting soon after it starts" in said
    assert "worker.log" in said and "gevent" in said


def test_sigterm_to_up_stops_everything_it_started(up):
    with up.http() as client:  # a job in the middle: its worker must stop too
        start_slow_job(client, "stopped-with-up", budget=30)
    pgids = {child["pid"] for child in up.state()["children"].values()}
    assert len(pgids) == 4 and process_groups_alive(pgids) == pgids
    assert up.stop() == 0
    assert process_groups_alive(pgids) == set()
