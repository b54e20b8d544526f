"""Faults on real processes: workers killed or stopped mid-job, Redis restarted, MLflow gone,
jobs cancelled. The job must end completed or failed with a reason, never stay `running`."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Iterator

import pandas as pd
import pytest
import redis

from tests.factories import boosting_frame, to_chunks
from tests.faults.jobs import (
    QUICK_CSV,
    start_slow_job,
    versions_of,
    wait_for,
)
from tests.faults.stack import LEASE_SECONDS, FaultStack
from tests.helpers import BATCH_STATUS, upload, upload_batch, wait_for_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    from tests.conftest import ARTIFACTS

    stack = FaultStack(tmp_path_factory.mktemp("faults"), ARTIFACTS / "logs").start()
    try:
        yield stack
    finally:
        stack.stop()


def test_a_worker_killed_mid_training_is_noticed_and_its_job_completes_once(faults):
    with faults.http() as client:
        tracking_id = start_slow_job(client, "killed")
        faults.kill_worker(faults.workers[0], signal.SIGKILL)
        faults.start_worker()
        # Noticed within a few leases: back in the queue (or already done by the new worker).
        requeued = wait_for(
            client, tracking_id, lambda b: b["status"] != "running", timeout=4 * LEASE_SECONDS + 30
        )
        assert (requeued["status"], requeued["stage"]) in (
            ("pending", "queued"),
            ("completed", "done"),
        ), requeued
        job = wait_for_job(client, tracking_id, timeout=120)
    assert job["status"] == "completed", job["error"]
    assert len(versions_of(faults.mlflow_uri, tracking_id)) == 1


def test_a_worker_told_to_stop_hands_its_job_back_at_once(faults):
    with faults.http() as client:
        tracking_id = start_slow_job(client, "handed-back")
        faults.kill_worker(faults.workers[0], signal.SIGTERM)
        handed = client.get(f"/api/model-train/status/{tracking_id}").json()
        assert handed["status"] == "pending" and handed["stage"] == "queued"
        faults.start_worker()
        job = wait_for_job(client, tracking_id, timeout=120)
    assert job["status"] == "completed", job["error"]
    assert len(versions_of(faults.mlflow_uri, tracking_id)) == 1


def test_a_queued_job_that_is_cancelled_never_starts(faults):
    faults.kill_worker(faults.workers[0], signal.SIGTERM)
    with faults.http() as client:
        tracking_id = upload(client, QUICK_CSV, filename="cancel-queued.csv")[0].json()[
            "trackingId"
        ]
        cancelled = client.post(f"/api/model-train/{tracking_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "failed"
        faults.start_worker()
        # A job queued after it has run: the worker has taken the cancelled job's message.
        after = upload(client, QUICK_CSV, filename="after-cancelled.csv")[0].json()["trackingId"]
        assert wait_for_job(client, after, timeout=60)["status"] == "completed"
        job = client.get(f"/api/model-train/status/{tracking_id}").json()
        again = client.post(f"/api/model-train/{tracking_id}/cancel")
    assert job["status"] == "failed" and "cancelled" in job["error"]
    assert job["progress"] < 10 and not versions_of(faults.mlflow_uri, tracking_id)
    assert again.status_code == 409 and again.json()["status"] == "failed"


def test_a_running_job_that_is_cancelled_stops_and_registers_nothing(faults):
    with faults.http() as client:
        tracking_id = start_slow_job(client, "cancel-running", budget=30)
        started = time.monotonic()
        assert client.post(f"/api/model-train/{tracking_id}/cancel").status_code == 200
        # The worker notices at its next heartbeat and takes the next job.
        quick = upload(client, QUICK_CSV, filename="after-cancel.csv")[0].json()["trackingId"]
        assert wait_for_job(client, quick, timeout=60)["status"] == "completed"
        assert time.monotonic() - started < 25, "the cancelled job kept the worker busy"
        job = client.get(f"/api/model-train/status/{tracking_id}").json()
    assert job["status"] == "failed" and "cancelled" in job["error"]
    assert not versions_of(faults.mlflow_uri, tracking_id)


def test_finishing_a_running_job_early_keeps_the_best_model_so_far(faults):
    with faults.http() as client:
        tracking_id = start_slow_job(client, "finished-early", budget=120)
        started = time.monotonic()
        answer = client.post(f"/api/model-train/{tracking_id}/finish")
        assert answer.status_code == 200 and answer.json()["status"] == "running"
        job = wait_for_job(client, tracking_id, timeout=120)
        elapsed = time.monotonic() - started
        again = client.post(f"/api/model-train/{tracking_id}/finish")
    assert job["status"] == "completed", job["error"]
    assert elapsed < 60, "the search did not end early"
    assert job["result"]["search"]["stoppedEarly"] is True
    assert {"ridge", "lightgbm"} <= {row["estimator"] for row in job["result"]["leaderboard"]}
    assert len(versions_of(faults.mlflow_uri, tracking_id)) == 1
    assert again.status_code == 409 and again.json()["status"] == "completed"


def test_a_worker_killed_mid_batch_is_noticed_and_its_job_completes_once_in_order(faults):
    rows = boosting_frame(600_000, seed=7).drop(columns=["y"])
    data = rows.to_csv(index=False).encode()
    training = boosting_frame(4_000, seed=95).to_csv(index=False).encode()
    with faults.http() as client:
        trained = upload(client, training, filename="batch-model.csv", target="y", timeBudget=3)
        model = wait_for_job(client, trained[0].json()["trackingId"], timeout=120)
        assert model["status"] == "completed", model["error"]
        picked = f"{model['result']['estimator']} {model['result']['leaderboard'][0]}"
        assert "lightgbm" in picked, picked  # trees the new worker is told not to compile
        answers = upload_batch(client, data, model["modelId"], chunks=to_chunks(data, 4))
        assert answers[-1].status_code == 202, answers[-1].text
        tracking_id = answers[0].json()["trackingId"]
        path = BATCH_STATUS.format(tracking_id)
        deadline = time.monotonic() + 60
        while (job := client.get(path).json())["stage"] != "predicting":
            assert time.monotonic() < deadline and job["status"] != "completed", job
            time.sleep(0.05)
        faults.kill_worker(faults.workers[0], signal.SIGKILL)  # blocks half written
        faults.start_worker(MODELTRAIN_BATCH_COMPILE="false")
        job = wait_for_job(client, tracking_id, timeout=4 * LEASE_SECONDS + 120,
                           status_path=BATCH_STATUS)  # fmt: skip
        result = client.get(job["result"]["resultUrl"]) if job["status"] == "completed" else None
        synchronous = client.post(
            f"/api/model-inference/predict?modelId={model['modelId']}",
            content=rows.head(1_000).to_csv(index=False).encode(),
            headers={"content-type": "text/csv", "accept": "text/csv"},
        )
    assert job["status"] == "completed", job["error"]
    assert job["attempts"] == 2  # the killed attempt and the one that finished
    assert job["result"]["rows"] == 600_000 and job["result"]["compiledBlocks"] == 0
    assert result is not None and result.content.count(b"\n") == 600_001  # the header once
    assert result.content.startswith(synchronous.content)  # the file's order kept
    got = pd.read_csv(io.BytesIO(result.content))
    assert len(got) == 600_000
    # The killed attempt's draft is gone with the job's upload TTL, not its retention.
    client_redis = redis.Redis.from_url(faults.redis_url)
    drafts = list(client_redis.scan_iter(match=f"*{tracking_id}*:draft:*"))
    assert all(0 < client_redis.ttl(key) <= 3600 for key in drafts), drafts


def test_jobs_survive_a_redis_restart_the_api_says_503_meanwhile_and_all_reconnect(faults):
    with faults.http() as client:
        done = upload(client, QUICK_CSV, filename="before-restart.csv")[0].json()["trackingId"]
        assert wait_for_job(client, done)["status"] == "completed"
        faults.kill_worker(faults.workers[0], signal.SIGTERM)
        queued = upload(client, QUICK_CSV, filename="queued.csv")[0].json()["trackingId"]

        faults.redis.stop()
        down = client.get(f"/api/model-train/status/{done}")
        assert down.status_code == 503 and "Redis" in down.json()["error"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"]["ok"] is False

        faults.start_redis()
        assert client.get(f"/api/model-train/status/{done}").json()["status"] == "completed"
        assert client.get(f"/api/model-train/status/{queued}").json()["stage"] == "queued"
        faults.start_worker()
        assert wait_for_job(client, queued, timeout=90)["status"] == "completed"
        assert client.get("/readyz").status_code == 200

        # The running worker and API reconnect by themselves after another restart.
        faults.redis.stop()
        faults.start_redis()
        after = upload(client, QUICK_CSV, filename="after-restart.csv")[0].json()["trackingId"]
        assert wait_for_job(client, after, timeout=90)["status"] == "completed"


def test_mlflow_going_away_mid_job_fails_it_with_a_clear_error_in_time(faults):
    with faults.http() as client:
        tracking_id = start_slow_job(client, "no-mlflow", budget=5)
        faults.mlflow.stop()
        stopped_at = time.monotonic()
        try:
            job = wait_for_job(client, tracking_id, timeout=150)
        finally:
            faults.start_mlflow()
    assert job["status"] == "failed"
    assert "MLflow tracking server could not store the model" in job["error"]
    assert time.monotonic() - stopped_at < 120
