"""The chunked-upload contract, against the running API process and a real Redis."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.factories import classification_frame, to_chunks
from tests.helpers import upload, wait_for_job

pytestmark = pytest.mark.integration

CSV = classification_frame(rows=120).to_csv(index=False).encode()


def _post(client, index, total, part, tracking_id=None, filename="d.csv", **extra):
    form = {"filename": filename, "chunkIndex": str(index), "totalChunks": str(total), **extra}
    if index == 0:
        form.setdefault("force", "true")  # the same file is trained each time
    if tracking_id:
        form["trackingId"] = tracking_id
    return client.post(
        "/api/model-train/start", data=form, files={"chunk": (filename, part, "text/csv")}
    )


def _job_count(stack) -> int:
    return stack.redis.client().zcard(f"{stack.redis.prefix}:jobs")


def test_each_chunk_is_answered_with_the_bytes_received_so_far(stack):
    parts = to_chunks(CSV, 3)
    with stack.http() as client:
        answers = upload(client, CSV, parts)
    assert [a.status_code for a in answers] == [200, 200, 202]
    assert [a.json()["receivedChunks"] for a in answers] == [1, 2, 3]
    assert answers[1].json()["receivedBytes"] == len(parts[0]) + len(parts[1])
    assert len({a.json()["trackingId"] for a in answers}) == 1


def test_a_retried_chunk_is_answered_like_the_first_time_and_stored_once(stack):
    parts = to_chunks(CSV, 3)
    with stack.http() as client:
        first = _post(client, 0, 3, parts[0])
        tid = first.json()["trackingId"]
        again = _post(client, 0, 3, parts[0], tid)
        assert again.status_code == 200 and again.json() == first.json()
        _post(client, 1, 3, parts[1], tid)
        last = _post(client, 2, 3, parts[2], tid)
        retried_last = _post(client, 2, 3, parts[2], tid)
        assert last.status_code == retried_last.status_code == 202
        assert retried_last.json()["receivedBytes"] == len(CSV)
        job = wait_for_job(client, tid)
    assert job["status"] == "completed", job["error"]
    assert job["result"]["rows"] == 120


def test_a_chunk_out_of_order_is_refused_with_the_expected_index(stack):
    parts = to_chunks(CSV, 3)
    with stack.http() as client:
        tid = _post(client, 0, 3, parts[0]).json()["trackingId"]
        skipped = _post(client, 2, 3, parts[2], tid)
        assert skipped.status_code == 409
        assert skipped.json()["expectedChunkIndex"] == 1
        assert skipped.json()["trackingId"] == tid
        changed = _post(client, 0, 3, b"other bytes", tid)
        assert changed.status_code == 409 and "other bytes" in changed.json()["error"]
        past = _post(client, 3, 3, parts[2], tid)
        assert past.status_code == 409
        total = _post(client, 1, 4, parts[1], tid)
        assert total.status_code == 422 and total.json()["field"] == "totalChunks"
        # None of that changed the upload: it goes on where it was.
        assert _post(client, 1, 3, parts[1], tid).json()["receivedChunks"] == 2
        status = client.get(f"/api/model-train/status/{tid}").json()
        assert status["status"] == "pending" and status["stage"] == "uploading"


def test_unknown_tracking_ids_are_404(stack):
    with stack.http() as client:
        assert _post(client, 1, 2, b"x", "nope").status_code == 404
        missing = client.get("/api/model-train/status/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"chunkIndex": "0", "totalChunks": "1"}, "filename"),
        ({"filename": "a.csv", "totalChunks": "1"}, "chunkIndex"),
        ({"filename": "a.csv", "chunkIndex": "-1", "totalChunks": "1"}, "chunkIndex"),
        ({"filename": "a.csv", "chunkIndex": "0", "totalChunks": "0"}, "totalChunks"),
        ({"filename": "a.csv", "chunkIndex": "x", "totalChunks": "1"}, "chunkIndex"),
        ({"filename": "a.csv", "chunkIndex": "1", "totalChunks": "2"}, "trackingId"),
        ({"filename": "a.csv", "chunkIndex": "0", "totalChunks": "1", "task": "x"}, "task"),
        (
            {"filename": "a.csv", "chunkIndex": "0", "totalChunks": "1", "timeBudget": "0.5"},
            "timeBudget",
        ),
    ],
)
def test_missing_or_malformed_fields_are_422_naming_the_field_and_create_no_job(stack, form, field):
    before = _job_count(stack)
    with stack.http() as client:
        answer = client.post(
            "/api/model-train/start", data=form, files={"chunk": ("a.csv", CSV, "text/csv")}
        )
    assert answer.status_code == 422
    assert answer.json()["field"] == field and field in answer.json()["error"]
    assert _job_count(stack) == before


def test_a_missing_chunk_part_is_422(stack):
    with stack.http() as client:
        answer = client.post(
            "/api/model-train/start",
            data={"filename": "a.csv", "chunkIndex": "0", "totalChunks": "1"},
            files={"other": ("a.csv", b"a,b\n1,2\n", "text/csv")},
        )
    assert answer.status_code == 422 and answer.json()["field"] == "chunk"


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", CSV)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("payload", "target", "message"),
    [
        (b"", None, "empty"),
        (_zip_bytes(), None, "ZIP"),
        (b"only_one_column\n1\n2\n", None, "at least two columns"),
        (b"a,b,a\n1,2,3\n", None, "repeats column names: a"),
        (b"a,b\n", None, "no data rows"),
        (CSV, "nope", "'nope' is not in the header"),
        (b"\x00\x01\x02binary", None, "not text"),
    ],
)
def test_a_file_that_is_not_a_usable_csv_is_refused_and_its_job_fails(
    stack, payload, target, message
):
    with stack.http() as client:
        answer = _post(client, 0, 1, payload, **({"target": target} if target else {}))
        assert answer.status_code == 422
        body = answer.json()
        assert message in body["error"]
        job = client.get(f"/api/model-train/status/{body['trackingId']}").json()
    assert job["status"] == "failed" and job["error"] == body["error"]
    assert (
        stack.redis.client().exists(f"{stack.redis.prefix}:upload:{body['trackingId']}:data") == 0
    )


def test_an_upload_that_grows_past_the_cap_is_413_discarded_and_failed(stack):
    # The stack's cap is 2,000,000 bytes; chunks are capped at 1,000,000.
    line = b"1.0,2.0,3.0\n"
    part = b"a,b,c\n" + line * (900_000 // len(line))
    with stack.http() as client:
        tid = _post(client, 0, 3, part).json()["trackingId"]
        assert _post(client, 1, 3, line * (900_000 // len(line)), tid).status_code == 200
        over = _post(client, 2, 3, line * (900_000 // len(line)), tid)
        assert over.status_code == 413 and over.json()["trackingId"] == tid
        job = client.get(f"/api/model-train/status/{tid}").json()
        too_big_chunk = _post(client, 0, 1, part + part)
    assert job["status"] == "failed" and "larger than the limit" in job["error"]
    assert stack.redis.client().exists(f"{stack.redis.prefix}:upload:{tid}:data") == 0
    assert (
        too_big_chunk.status_code == 413
        and "at most 1000000 bytes" in too_big_chunk.json()["error"]
    )


def test_the_job_list_is_newest_first_and_filters_by_status(stack):
    with stack.http() as client:
        failed = _post(client, 0, 1, b"").json()["trackingId"]
        ok = upload(client, CSV)[0].json()["trackingId"]
        listed = client.get("/api/model-train/status", params={"limit": 2}).json()
        assert [j["trackingId"] for j in listed] == [ok, failed]
        failed_only = client.get("/api/model-train/status", params={"status": "failed"}).json()
        assert failed in {j["trackingId"] for j in failed_only}
        assert all(j["status"] == "failed" for j in failed_only)
        bad = client.get("/api/model-train/status", params={"status": "nope"})
        assert bad.status_code == 422 and bad.json()["field"] == "status"
        wait_for_job(client, ok)


def test_file_names_are_display_text_only(stack):
    nasty = "../../etc/passwd\u202e\x00" + "x" * 5000 + ".csv"
    with stack.http() as client:
        answers = upload(client, CSV, filename=nasty)
        assert answers[0].status_code == 202, answers[0].text
        job = wait_for_job(client, answers[0].json()["trackingId"])
    assert job["status"] == "completed", job["error"]
    assert "\x00" not in job["filename"] and "\u202e" not in job["filename"]
    assert len(job["filename"]) <= 255
    name = job["result"]["modelName"]
    assert name.replace("-", "").replace("_", "").replace(".", "").isalnum()


def test_a_finished_job_can_be_forgotten_and_one_in_progress_cannot(stack):
    redis = stack.redis.client()
    with stack.http() as client:
        refused = _post(client, 0, 1, b"just one column\n1\n2\n")  # not trainable: failed
        assert refused.status_code == 422
        failed_id = refused.json()["trackingId"]
        first = _post(client, 0, 2, to_chunks(CSV, 2)[0])  # an upload still in progress
        pending_id = first.json()["trackingId"]
        staged = f"{stack.redis.prefix}:upload:{pending_id}:data"
        assert redis.exists(staged)

        busy = client.delete(f"/api/model-train/{pending_id}")
        assert busy.status_code == 409 and "is pending; cancel it first" in busy.json()["error"]
        assert client.get(f"/api/model-train/status/{pending_id}").status_code == 200
        assert redis.exists(staged), "a refused forget changed nothing"

        gone = client.delete(f"/api/model-train/{failed_id}")
        assert gone.status_code == 200 and gone.json() == {
            "trackingId": failed_id,
            "forgotten": True,
        }
        assert client.get(f"/api/model-train/status/{failed_id}").status_code == 404
        listed = {j["trackingId"] for j in client.get("/api/model-train/status").json()}
        assert failed_id not in listed and pending_id in listed
        assert client.delete(f"/api/model-train/{failed_id}").status_code == 404

        assert client.post(f"/api/model-train/{pending_id}/cancel").status_code == 200
        assert client.delete(f"/api/model-train/{pending_id}").status_code == 200
        record = f"{stack.redis.prefix}:job:{pending_id}"
        assert not redis.exists(staged) and not redis.exists(record)
