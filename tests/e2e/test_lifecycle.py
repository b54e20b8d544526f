"""The model lifecycle through the API on real processes: a hand-set champion, duplicate
uploads, retraining refusals, and bad input to the new routes changing nothing."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from mlflow import MlflowClient

from tests.factories import classification_frame, records, to_chunks
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration

NAME = "lifecycle"


def _train(client, data: bytes, **options) -> dict:
    answers = upload(client, data, filename="lifecycle.csv", **options)
    assert answers[-1].status_code == 202, answers[-1].text
    job = wait_for_job(client, answers[0].json()["trackingId"])
    assert job["status"] == "completed", job["error"]
    return job


def _noisy(seed: int) -> bytes:
    """Labels mostly shuffled: whatever is trained on it scores worse than on clean data."""
    df = classification_frame(rows=200, seed=seed)
    rng = np.random.default_rng(seed)
    flip = rng.random(len(df)) < 0.45
    df.loc[flip, "churn"] = rng.permutation(df.loc[flip, "churn"].to_numpy())
    return df.to_csv(index=False).encode()


ROWS = records(classification_frame(rows=3, seed=5).drop(columns=["churn"]))
CLEAN = classification_frame(rows=200, seed=61).to_csv(index=False).encode()


@pytest.fixture(scope="module")
def weak_version(stack) -> dict:
    """A first version of NAME, trained on noisy labels (so later clean data beats it)."""
    with stack.http() as client:
        return _train(client, _noisy(60), modelName=NAME, timeBudget=1)


def test_a_hand_set_champion_survives_a_better_new_version(stack, weak_version):
    registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
    version = weak_version["result"]["modelVersion"]
    with stack.http() as client:
        answer = client.put(f"/api/models/{NAME}/aliases/champion", json={"version": version})
        assert answer.status_code == 200, answer.text
        assert answer.json()["modelId"] == weak_version["modelId"]
        tags = registry.get_model_version(NAME, version).tags
        assert tags["modeltrain.championSetBy"].startswith("anonymous")
        better = _train(client, CLEAN, modelName=NAME, timeBudget=1)
        champion = better["result"]["champion"]
        assert champion["promoted"] is False and "set by hand" in champion["reason"]
        assert better["result"]["metrics"]["roc_auc"] > weak_version["result"]["metrics"]["roc_auc"]
        assert registry.get_model_version_by_alias(NAME, "champion").version == version
        predicted = client.post(
            "/api/model-inference/predict",
            json={"modelId": f"models:/{NAME}@champion", "inputs": ROWS},
        )
        assert predicted.status_code == 200, predicted.text
        assert predicted.json()["modelId"] == weak_version["modelId"]

        removed = client.delete(f"/api/models/{NAME}/aliases/champion")
        assert removed.status_code == 200 and removed.json()["version"] == version
        assert "modeltrain.championSetBy" not in registry.get_model_version(NAME, version).tags
        assert client.delete(f"/api/models/{NAME}/aliases/champion").status_code == 404


def test_the_same_file_with_the_same_options_is_trained_once(stack):
    data = classification_frame(rows=150, seed=62).to_csv(index=False).encode()
    digest = hashlib.sha256(data).hexdigest()
    options = {"modelName": "dedup", "timeBudget": 1, "dedupe": True}
    with stack.http() as client:
        first = _train(client, data, **options)
        # fileSha256 on chunk 0: one chunk is sent, nothing more is needed.
        short = upload(client, data, chunks=to_chunks(data, 3), fileSha256=digest, **options)
        assert len(short) == 1 and short[0].status_code == 200, short[0].text
        assert short[0].json()["duplicateOf"] == first["trackingId"]
        assert short[0].json()["status"] == "completed"
        assert short[0].json()["modelId"] == first["modelId"]
        # Without it: hashed when the last chunk lands; the new job completes at once.
        whole = upload(client, data, chunks=to_chunks(data, 2), **options)
        assert [a.status_code for a in whole] == [200, 200], whole[-1].text
        job = client.get(f"/api/model-train/status/{whole[0].json()['trackingId']}").json()
        assert job["status"] == "completed" and job["duplicateOf"] == first["trackingId"]
        assert job["modelId"] == first["modelId"] and job["progress"] == 100
        # Another budget, or force: trained again.
        other = upload(
            client, data, fileSha256=digest, modelName="dedup", timeBudget=2, dedupe=True
        )
        forced = upload(client, data, fileSha256=digest, force="true", **options)
        for answers in (other, forced):
            assert answers[-1].status_code == 202, answers[-1].text
            again = wait_for_job(client, answers[0].json()["trackingId"])
            assert again["status"] == "completed" and again["duplicateOf"] is None
            assert again["modelId"] != first["modelId"]
        # A client whose fileSha256 lies about the bytes is refused at the last chunk.
        lying = upload(client, data + b"\n", fileSha256=digest, modelName="dedup-2", dedupe=True)
        assert lying[-1].status_code == 422 and lying[-1].json()["field"] == "fileSha256"
        lied = client.get(f"/api/model-train/status/{lying[0].json()['trackingId']}").json()
        assert lied["status"] == "failed" and "fileSha256" in lied["error"]


def test_retraining_a_job_without_stored_data_is_refused(stack):
    with stack.http() as client:
        failed = upload(client, b"only,one\nrow,here\n", target="nope", filename="bad.csv")
        tracking_id = failed[0].json()["trackingId"]
        answer = client.post(f"/api/model-train/{tracking_id}/retrain", json={})
        assert answer.status_code == 409 and "no stored data" in answer.json()["error"]
        unknown = client.post("/api/model-train/no-such-job/retrain", json={})
        assert unknown.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timeBudget": 0}, "timeBudget"),
        ({"timeBudget": "soon"}, "timeBudget"),
        ({"task": "clustering"}, "task"),
        ({"target": "not-a-column"}, "target"),
        ({"target": ""}, "target"),
        ({"budget": 5}, "budget"),
        ({"families": ["boosting"]}, "families"),
        ({"families": 3}, "families"),
    ],
)
def test_bad_retrain_requests_name_the_field_and_queue_nothing(stack, weak_version, body, field):
    with stack.http() as client:
        before = len(client.get("/api/model-train/status", params={"limit": 500}).json())
        answer = client.post(f"/api/model-train/{weak_version['trackingId']}/retrain", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field, answer.json()
        after = len(client.get("/api/model-train/status", params={"limit": 500}).json())
    assert after == before


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("PUT", "/api/models/{name}/aliases/latest", {"version": "1"}, 422, "alias"),
        ("PUT", "/api/models/{name}/aliases/v2", {"version": "1"}, 422, "alias"),
        ("PUT", "/api/models/{name}/aliases/ok", {"version": "one"}, 422, "version"),
        ("PUT", "/api/models/{name}/aliases/ok", {"version": 1.5}, 422, "version"),
        ("PUT", "/api/models/{name}/aliases/ok", {}, 422, "version"),
        ("PUT", "/api/models/{name}/aliases/ok", {"version": "1", "x": 1}, 422, "x"),
        ("PUT", "/api/models/{name}/aliases/ok", {"version": "999"}, 404, None),
        ("PUT", "/api/models/no-such-model/aliases/ok", {"version": "1"}, 404, None),
        ("DELETE", "/api/models/{name}/aliases/never-set", None, 404, None),
        ("DELETE", "/api/models/{name}/versions/999", None, 404, None),
        ("DELETE", "/api/models/{name}/versions/first", None, 422, "version"),
        ("DELETE", "/api/models/no-such-model/versions/1", None, 404, None),
    ],
)
def test_bad_model_requests_are_refused_and_change_nothing(
    stack, weak_version, method, path, body, status, field
):
    registry = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
    before = registry.get_registered_model(NAME)
    with stack.http() as client:
        answer = client.request(method, path.format(name=NAME), json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]
    if field:
        assert answer.json()["field"] == field, answer.json()
    after = registry.get_registered_model(NAME)
    assert after.aliases == before.aliases
    versions = registry.search_model_versions(f"name='{NAME}'")
    assert weak_version["result"]["modelVersion"] in {v.version for v in versions}


def _estimators(job: dict) -> set[str]:
    return {row["estimator"] for row in job["result"]["leaderboard"]} - {"ensemble"}


def test_a_job_searches_only_the_families_it_names_and_a_retrain_may_name_others(stack):
    with stack.http() as client:
        first = _train(client, CLEAN, modelName="families", timeBudget=1,
                       families="logistic_regression, extra_trees")  # fmt: skip
        assert first["options"]["families"] == ["linear", "extra_trees"]
        assert _estimators(first) <= {"logistic_regression", "extra_trees"}, first["result"]
        assert first["result"]["search"]["families"] == ["linear", "extra_trees"]
        answer = client.post(f"/api/model-train/{first['trackingId']}/retrain",
                             json={"families": ["lightgbm"], "timeBudget": 1})  # fmt: skip
        assert answer.status_code == 202, answer.text
        again = wait_for_job(client, answer.json()["trackingId"])
        assert again["status"] == "completed", again["error"]
        assert again["options"]["families"] == ["lightgbm"]
        assert _estimators(again) == {"lightgbm"}, again["result"]
        assert again["result"]["search"]["families"] == ["lightgbm"]
