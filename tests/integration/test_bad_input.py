"""Bad input, case by case: each gets a clear JSON error with a fitting 4xx code and changes
nothing else (no job, no stray bytes, other uploads untouched)."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from tests.factories import classification_frame, to_chunks
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration

CSV = classification_frame(rows=120).to_csv(index=False).encode()


def _form(**fields):
    base = {"filename": "d.csv", "chunkIndex": "0", "totalChunks": "1"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _snapshot(stack) -> dict:
    """What a refusal must not change: the jobs and the staged upload keys."""
    client = stack.redis.client()
    prefix = stack.redis.prefix
    return {
        "jobs": client.zcard(f"{prefix}:jobs"),
        "uploads": sorted(client.scan_iter(f"{prefix}:upload:*:data")),
    }


@pytest.fixture(scope="module")
def bystander(stack):
    """An upload in progress that every refusal of this module must leave as it was: finished
    (and trained) once they have all been made."""
    parts = to_chunks(CSV, 2)
    with stack.http() as client:
        first = client.post(
            "/api/model-train/start",
            data=_form(totalChunks="2", force="true"),  # trained each time, not a duplicate
            files={"chunk": ("c", parts[0], "text/csv")},
        ).json()
    yield first["trackingId"], parts
    with stack.http() as client:
        last = client.post(
            "/api/model-train/start",
            data=_form(totalChunks="2", chunkIndex="1", trackingId=first["trackingId"]),
            files={"chunk": ("c", parts[1], "text/csv")},
        )
        assert last.status_code == 202, "a refusal disturbed another upload"
        assert wait_for_job(client, first["trackingId"])["status"] == "completed"


# (form fields, chunk bytes, expected status, words in the error) — refused before any job exists
NO_JOB_CASES = [
    ({"filename": None}, CSV, 422, "filename"),
    ({"filename": ""}, CSV, 422, "filename"),
    ({"chunkIndex": None}, CSV, 422, "chunkIndex"),
    ({"chunkIndex": "-1"}, CSV, 422, "chunkIndex"),
    ({"chunkIndex": "1.5"}, CSV, 422, "chunkIndex"),
    ({"totalChunks": None}, CSV, 422, "totalChunks"),
    ({"totalChunks": "0"}, CSV, 422, "totalChunks"),
    ({"totalChunks": "many"}, CSV, 422, "totalChunks"),
    ({"totalChunks": "1000001"}, CSV, 422, "totalChunks"),
    ({"chunkIndex": "1", "totalChunks": "2"}, CSV, 422, "trackingId is required"),
    ({"trackingId": "0" * 32}, CSV, 404, "unknown trackingId"),
    ({"task": "clustering"}, CSV, 422, "task must be one of"),
    ({"timeBudget": "0"}, CSV, 422, "timeBudget must be between 1"),
    ({"timeBudget": "999999"}, CSV, 422, "timeBudget must be between 1"),
    ({"timeBudget": "soon"}, CSV, 422, "timeBudget"),
    ({"families": "lightgbm,deep_net"}, CSV, 422, "families: unknown 'deep_net'"),
    ({"metrics": "mae"}, CSV, 422, "unknown field 'metrics'"),  # not silently ignored
    ({"metric": "auc"}, CSV, 422, "metric: unknown 'auc'"),
    ({"metric": "mae", "task": "classification"}, CSV, 422, "'mae' is for regression"),
    ({"positiveClass": "yes", "metric": "rmse"}, CSV, 422, "positiveClass applies to classes"),
    ({"chunkSha256": "abc"}, CSV, 422, "chunkSha256"),
    ({"chunkSha256": "0" * 64}, CSV, 422, "does not match"),
    ({"trackingId": "x" * 65}, CSV, 422, "trackingId"),
]


@pytest.mark.parametrize(("fields", "payload", "status", "words"), NO_JOB_CASES)
def test_malformed_requests_are_refused_and_change_nothing(
    stack, bystander, fields, payload, status, words
):
    before = _snapshot(stack)
    with stack.http() as client:
        answer = client.post(
            "/api/model-train/start",
            data=_form(**fields),
            files={"chunk": ("c", payload, "text/csv")},
        )
    assert answer.status_code == status
    assert words in answer.json()["error"]
    assert _snapshot(stack) == before


# Files that are refused as soon as the header (or the whole small file) is there: the job is
# created, then failed with the same message, and its bytes are freed.
BAD_FILES = [
    (b"", "the file is empty"),
    (b"\n\n  \n", "the file is empty"),
    (gzip.compress(CSV), "gzip archive"),
    (b"%PDF-1.7\n...", "PDF document"),
    (b"\x89PNG\r\n\x1a\n....", "PNG image"),
    (b"a,b\x00,c\n1,2,3\n", "NUL bytes"),
    (b"one\n1\n2\n", "at least two columns"),
    (b"a,,c\n1,2,3\n", "empty column name"),
    (b"a,b,a\n1,2,3\n", "repeats column names: a"),
    (b"a,b,c\n", "no data rows"),
    (b"a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields; the header has 3"),
    (b'a,b\n1,"open\n', "quoted field is never closed"),
    (b"a,b\n1," + b"z" * 70_000 + b"\n", "line 2 is longer than 65536 bytes"),
    (b",".join(b"c%d" % i for i in range(2001)) + b"\n" + b"1," * 2000 + b"1\n", "at most 2000"),
]


@pytest.mark.parametrize(("payload", "words"), BAD_FILES)
def test_files_that_are_not_usable_csv_are_refused_and_their_job_fails(
    stack, bystander, payload, words
):
    with stack.http() as client:
        answer = client.post(
            "/api/model-train/start", data=_form(), files={"chunk": ("c", payload, "text/csv")}
        )
        assert answer.status_code == 422
        body = answer.json()
        assert words in body["error"]
        job = client.get(f"/api/model-train/status/{body['trackingId']}").json()
    assert job["status"] == "failed" and job["error"] == body["error"]
    key = f"{stack.redis.prefix}:upload:{body['trackingId']}:data"
    assert stack.redis.client().exists(key) == 0


def test_a_chunk_whose_checksum_matches_is_stored(stack):
    with stack.http() as client:
        answers = upload(client, CSV, chunkSha256=hashlib.sha256(CSV).hexdigest())
    assert answers[-1].status_code == 202


def test_an_unknown_target_fails_the_job_naming_the_columns(stack, bystander):
    with stack.http() as client:
        answer = upload(client, CSV, target="price")[0]
    assert answer.status_code == 422
    assert (
        "'price' is not in the header; columns are: age, income, city, churn"
        in answer.json()["error"]
    )


PREDICT_CASES = [
    ({"modelId": "models:/nope/1", "inputs": [{"a": 1}]}, 404, "has no version"),
    ({"modelId": "models:/nope@champion", "inputs": [{"a": 1}]}, 404, "no alias"),
    ({"modelId": "not a model id", "inputs": [{"a": 1}]}, 422, "modelId must look like"),
    ({"modelId": 7, "inputs": [{"a": 1}]}, 422, "modelId must look like"),
    ({"inputs": [{"a": 1}]}, 422, "modelId is required"),
    ({"modelId": "models:/nope/1"}, 422, "exactly one of"),
    ({"modelId": "models:/nope/1", "inputs": []}, 422, "no rows"),
    ({"modelId": "models:/nope/1", "inputs": "rows"}, 422, "list of objects"),
    ({"modelId": "models:/nope/1", "dataframe_split": {"data": [[1]]}}, 422, "'columns'"),
    ({"modelId": "models:/nope/1", "dataframe_split": {"columns": ["a"], "data": 5}}, 422, "len"),
    ([1, 2], 422, "JSON object"),
    ({"modelId": "models:/nope/1", "inputs": [{"a": 1}], "explain": "yes"}, 422, "explain must"),
    ({"modelId": "models:/nope/1", "inputs": [{"a": 1}], "probabilities": 1}, 422, "probabilities"),
]


@pytest.mark.parametrize(("body", "status", "words"), PREDICT_CASES)
def test_bad_prediction_requests_get_a_clear_error(stack, body, status, words):
    with stack.http() as client:
        answer = client.post("/api/model-inference/predict", json=body)
    assert answer.status_code == status and words in answer.json()["error"]


def test_a_body_that_is_not_json_is_422(stack):
    with stack.http() as client:
        answer = client.post(
            "/api/model-inference/predict",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 422 and "not valid JSON" in answer.json()["error"]


def test_a_flag_in_a_csv_requests_query_must_read_as_true_or_false(stack):
    with stack.http() as client:
        answer = client.post(
            "/api/model-inference/predict?modelId=models:/nope/1&explain=maybe",
            content=b"a\n1\n",
            headers={"content-type": "text/csv"},
        )
    assert answer.status_code == 422 and "explain must be true or false" in answer.json()["error"]


@pytest.mark.parametrize("body", [{"timeBudget": "30"}, {"task": 3}, {"metric": ["mae"]}])
def test_a_retrain_body_field_of_the_wrong_json_type_is_refused_naming_it(stack, body):
    with stack.http() as client:
        answer = client.post("/api/model-train/nope/retrain", json=body)
    assert answer.status_code == 422 and next(iter(body)) in answer.json()["error"]


def test_a_batch_upload_refuses_a_field_it_does_not_take(stack):
    with stack.http() as client:
        answer = client.post(
            "/api/model-inference/batch",
            data=_form(modelId="models:/m/1", target="y"),
            files={"chunk": ("c", CSV, "text/csv")},
        )
    assert answer.status_code == 422 and answer.json()["field"] == "target"


def test_cancelling_an_unknown_job_is_404(stack):
    with stack.http() as client:
        answer = client.post("/api/model-train/nope/cancel")
    assert answer.status_code == 404 and "nope" in answer.json()["error"]


def test_the_service_lists_the_training_options_it_takes(stack):
    with stack.http() as client:
        info = client.get("/api/info").json()
    names = [option["name"] for option in info["options"]]
    assert names == ["target", "task", "modelName", "timeBudget", "families", "excludeColumns",
                     "metric", "positiveClass", "weightColumn", "timeColumn",
                     "groupColumn"]  # fmt: skip
    by_task = {task: [m["name"] for m in found] for task, found in info["metrics"].items()}
    assert by_task["regression"] == ["r2", "rmse", "mae", "mape", "rmsle"]
    assert by_task["classification"][:2] == ["roc_auc", "log_loss"]
    assert (
        next(m for m in info["metrics"]["regression"] if m["name"] == "mae")["higherIsBetter"]
        is False
    )
    task = next(option for option in info["options"] if option["name"] == "task")
    assert task["choices"] == ["auto", "classification", "regression"]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [({"excludeColumns": "age,zip"}, "excludeColumns", "'zip' not in the header"),
     ({"timeColumn": "day"}, "timeColumn", "'day' not in the header"),
     ({"weightColumn": "churn"}, "weightColumn", "names the target column 'churn'")],
)  # fmt: skip
def test_a_column_option_the_header_lacks_fails_the_job_naming_the_field(
    stack, fields, field, words
):
    with stack.http() as client:
        answer = upload(client, CSV, **fields)[0]
    assert answer.status_code == 422
    body = answer.json()
    assert body["field"] == field and words in body["error"]
    with stack.http() as client:
        job = client.get(f"/api/model-train/status/{body['trackingId']}").json()
    assert job["status"] == "failed" and job["error"] == body["error"]


def test_excluded_columns_round_trip_and_are_left_out_of_the_model(stack):
    with stack.http() as client:
        answer = upload(client, CSV, excludeColumns="income", timeBudget="1")[-1]
        job = wait_for_job(client, answer.json()["trackingId"])
    assert job["status"] == "completed", job["error"]
    assert job["options"]["excludeColumns"] == ["income"]
    assert job["result"]["droppedColumns"]["income"].startswith("excluded on request")
    assert "income" not in job["result"]["features"]
