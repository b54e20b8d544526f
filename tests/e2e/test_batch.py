"""Batch prediction jobs on real processes: a CSV uploaded in chunks, predicted by the worker in
blocks, the result streamed back in the input's order and equal to the synchronous predict;
files that do not fit, unknown and deleted models, and results asked for too early."""

from __future__ import annotations

import hmac
import io
import json
import time
from hashlib import sha256

import pandas as pd
import pytest
from mlflow import MlflowClient

from modeltrain.runtime.processes import free_port
from tests.conftest import WEBHOOK_SECRET
from tests.factories import boosting_frame, classification_frame, to_chunks
from tests.helpers import BATCH_STATUS, upload, upload_batch, wait_for_job
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

NAME = "batchy"


def _train(client, name: str, seed: int) -> dict:
    csv = classification_frame(rows=300, seed=seed).to_csv(index=False).encode()
    answers = upload(client, csv, filename=f"{name}.csv", modelName=name, timeBudget=1)
    job = wait_for_job(client, answers[0].json()["trackingId"])
    assert job["status"] == "completed", job["error"]
    return job


@pytest.fixture(scope="module")
def trained(stack) -> dict:
    with stack.http() as client:
        return _train(client, NAME, seed=91)


def _first_of_two(client, chunk: bytes, model_id: str) -> str:
    """Chunk 0 of a two-chunk batch upload; returns its trackingId."""
    form = {"filename": "rows.csv", "chunkIndex": "0", "totalChunks": "2", "modelId": model_id}
    started = client.post(
        "/api/model-inference/batch", data=form, files={"chunk": ("c", chunk, "text/csv")}
    )
    assert started.status_code == 200, started.text
    return started.json()["trackingId"]


def _run_batch(client, data: bytes, model_id: str, chunks: int = 1, **options) -> dict:
    answers = upload_batch(client, data, model_id, chunks=to_chunks(data, chunks), **options)
    assert [a.status_code for a in answers] == [200] * (chunks - 1) + [202], answers[-1].text
    assert answers[-1].json()["status"] == "pending"
    return wait_for_job(client, answers[0].json()["trackingId"], status_path=BATCH_STATUS)


def test_a_batch_job_predicts_every_row_in_order_as_the_synchronous_predict_does(stack, trained):
    rows = classification_frame(rows=2_500, seed=92).drop(columns=["churn"])
    rows = rows.sample(frac=1, random_state=3).reset_index(drop=True)  # no order to fall back on
    data = rows.to_csv(index=False).encode()
    with stack.http() as client:
        job = _run_batch(client, data, trained["modelId"], chunks=3, probabilities="true")
        assert job["status"] == "completed", job["error"]
        assert job["kind"] == "batch" and job["modelId"] == trained["modelId"]
        assert job["progress"] == 100 and job["_progress_seen"] == sorted(job["_progress_seen"])
        assert job["result"]["rows"] == 2_500 and job["result"]["classes"] == ["no", "yes"]
        answer = client.get(job["result"]["resultUrl"])
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        synchronous = client.post(
            f"/api/model-inference/predict?modelId={trained['modelId']}&probabilities=true",
            content=data,
            headers={"content-type": "text/csv", "accept": "text/csv"},
        )
        listed = client.get("/api/model-train/status").json()
    got = pd.read_csv(io.BytesIO(answer.content))
    expected = pd.read_csv(io.BytesIO(synchronous.content))
    assert list(got.columns) == ["prediction", "proba_no", "proba_yes"]
    assert len(got) == 2_500
    pd.testing.assert_frame_equal(got, expected)
    assert next(j for j in listed if j["trackingId"] == job["trackingId"])["kind"] == "batch"


def test_a_file_without_the_models_columns_fails_naming_them(stack, trained):
    data = b"age,colour\n30,red\n40,blue\n"
    with stack.http() as client:
        job = _run_batch(client, data, trained["modelId"])
        result = client.get(f"/api/model-inference/batch/{job['trackingId']}/result")
    assert job["status"] == "failed"
    assert "missing columns" in job["error"] and "income" in job["error"]
    assert "city" in job["error"] and "age," not in job["error"]
    assert result.status_code == 409 and "failed" in result.json()["error"]


def test_a_model_deleted_before_the_job_ran_fails_it_with_a_reason(stack):
    with stack.http() as client:
        doomed = _train(client, "batch-doomed", seed=93)
        frame = classification_frame(rows=50, seed=94).drop(columns=["churn"])
        head, tail = to_chunks(frame.to_csv(index=False).encode(), 2)
        # Chunk 0 is checked against the registry; the model goes before the last chunk lands.
        tracking_id = _first_of_two(client, head, doomed["modelId"])
        form = {"filename": "rows.csv", "totalChunks": "2", "modelId": doomed["modelId"]}
        version = doomed["result"]["modelVersion"]
        deleted = client.delete(f"/api/models/batch-doomed/versions/{version}?force=true")
        assert deleted.status_code == 200, deleted.text
        last = client.post(
            "/api/model-inference/batch",
            data={**form, "chunkIndex": "1", "trackingId": tracking_id},
            files={"chunk": ("c", tail, "text/csv")},
        )
        assert last.status_code == 202, last.text
        job = wait_for_job(client, tracking_id, status_path=BATCH_STATUS)
    assert job["status"] == "failed"
    assert doomed["modelId"].split("/")[1] in job["error"]
    assert "cannot be used" in job["error"], job["error"]


@pytest.mark.parametrize(
    ("model_id", "status", "field"),
    [
        ("models:/batchy/999", 404, "modelId"),
        ("models:/no-such-model@champion", 404, "modelId"),
        ("not a model id", 422, "modelId"),
        ("", 422, "modelId"),
    ],
)
def test_chunk_0_naming_no_usable_model_is_refused_and_makes_no_job(
    stack, trained, model_id, status, field
):
    with stack.http() as client:
        before = len(client.get("/api/model-train/status").json())
        answer = upload_batch(client, b"age,income,city\n1,2,paris\n", model_id)[0]
        after = len(client.get("/api/model-train/status").json())
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] and answer.json().get("field", field) == field
    assert after == before


def test_ids_of_other_kinds_and_early_results_are_refused(stack, trained):
    with stack.http() as client:
        training_job = client.get(f"/api/model-inference/batch/{trained['trackingId']}")
        unknown = client.get("/api/model-inference/batch/nope/result")
        data = b"age,income,city\n30,50000,paris\n40,60000,lyon\n"
        two = to_chunks(data, 2)
        tracking_id = _first_of_two(client, two[0], trained["modelId"])
        early = client.get(f"/api/model-inference/batch/{tracking_id}/result")
        as_training = client.post(
            "/api/model-train/start",
            data={
                "filename": "r.csv",
                "chunkIndex": "1",
                "totalChunks": "2",
                "trackingId": tracking_id,
            },
            files={"chunk": ("c", two[1], "text/csv")},
        )
    assert training_job.status_code == 404 and unknown.status_code == 404
    assert early.status_code == 409 and "pending" in early.json()["error"]
    assert as_training.status_code == 404, as_training.text


def test_a_forgotten_batch_job_takes_its_result_with_it(stack, trained):
    data = b"age,income,city\n30,50000,paris\n"
    with stack.http() as client:
        job = _run_batch(client, data, trained["modelId"])
        assert job["status"] == "completed", job["error"]
        assert client.delete(f"/api/model-train/{job['trackingId']}").status_code == 200
        gone = client.get(f"/api/model-inference/batch/{job['trackingId']}/result")
    assert gone.status_code == 404
    registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
    assert registry.get_model_version(NAME, trained["result"]["modelVersion"])  # the model stays


def test_a_batch_job_with_a_callback_url_posts_its_signed_status_when_it_ends(stack, trained):
    receiver = Receiver(free_port())
    url = f"http://127.0.0.1:{receiver.server.server_address[1]}/hooks/batch"
    try:
        with stack.http() as client:
            job = _run_batch(
                client, b"age,income,city\n30,50000,paris\n", trained["modelId"], callbackUrl=url
            )
            deadline = time.monotonic() + 30
            while not receiver.calls:
                assert time.monotonic() < deadline, "the callback was not called"
                time.sleep(0.1)
    finally:
        receiver.close()
    headers, body = receiver.calls[0]
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Modeltrain-Signature"], expected)
    sent = json.loads(body)
    assert sent["trackingId"] == job["trackingId"] and sent["kind"] == "batch"
    assert sent["status"] == "completed" and sent["result"]["rows"] == 1


def test_later_batch_jobs_use_the_compiled_trees_and_predict_the_same_bytes(stack):
    data = boosting_frame(4_000, seed=95).to_csv(index=False).encode()
    with stack.http() as client:
        answers = upload(client, data, filename="steps.csv", modelName="batch-compiled",
                         target="y", timeBudget=3)  # fmt: skip
        trained = wait_for_job(client, answers[0].json()["trackingId"])
        assert trained["status"] == "completed", trained["error"]
        result = trained["result"]
        picked = f"{result['estimator']} {result['leaderboard'][0].get('members', '')}"
        assert "lightgbm" in picked, picked
        rows = boosting_frame(45_000, seed=96).drop(columns=["y"]).to_csv(index=False).encode()
        deadline = time.monotonic() + 120
        while True:  # the first job starts compiling; a later one finds the library loaded
            job = _run_batch(client, rows, trained["modelId"], chunks=2)
            assert job["status"] == "completed", job["error"]
            assert job["result"]["blocks"] == 3
            if job["result"]["compiledBlocks"] == 3:
                break
            assert time.monotonic() < deadline, "the trees were never compiled"
        batch = client.get(job["result"]["resultUrl"])
        synchronous = client.post(
            f"/api/model-inference/predict?modelId={trained['modelId']}",
            content=rows,
            headers={"content-type": "text/csv", "accept": "text/csv"},
        )
    assert synchronous.status_code == 200, synchronous.text
    assert batch.content == synchronous.content  # the same values, to the last digit
