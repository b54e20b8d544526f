"""Client-side helpers for tests that talk to the running service."""

from __future__ import annotations

import time

import httpx

TRAIN_STATUS = "/api/model-train/status/{}"
BATCH_STATUS = "/api/model-inference/batch/{}"


def wait_for_job(
    client: httpx.Client, tracking_id: str, timeout: float = 120, status_path: str = TRAIN_STATUS
) -> dict:
    """Poll until the job is finished; returns its last status body."""
    deadline = time.monotonic() + timeout
    seen_progress = []
    while time.monotonic() < deadline:
        answer = client.get(status_path.format(tracking_id))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen_progress.append(body["progress"])
        if body["status"] in ("completed", "failed"):
            body["_progress_seen"] = seen_progress
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {tracking_id} did not finish in {timeout} s: {body}")


def upload(
    client: httpx.Client,
    data: bytes,
    chunks: list[bytes] | None = None,
    filename: str = "data.csv",
    dedupe: bool = False,
    **options: object,
) -> list[httpx.Response]:
    """Send ``data`` in order (as ``chunks`` when given); returns every response. Tests upload
    the same few files many times and mean each to train: unless ``dedupe``, chunk 0 says
    ``force`` (the tests of duplicate uploads set it)."""
    if not dedupe:
        options.setdefault("force", "true")
    return send_chunks(client, "/api/model-train/start", chunks or [data], filename, options)


def upload_batch(
    client: httpx.Client,
    data: bytes,
    model_id: str,
    chunks: list[bytes] | None = None,
    filename: str = "rows.csv",
    **options: object,
) -> list[httpx.Response]:
    """A batch job's upload: ``data`` (as ``chunks`` when given) for ``model_id`` to predict."""
    options["modelId"] = model_id
    return send_chunks(client, "/api/model-inference/batch", chunks or [data], filename, options)


def send_chunks(
    client: httpx.Client, path: str, parts: list[bytes], filename: str, options: dict
) -> list[httpx.Response]:
    """Each part as one chunk, in order, ``options`` on chunk 0; stops at a refusal."""
    answers: list[httpx.Response] = []
    tracking_id = None
    for index, part in enumerate(parts):
        form = {"filename": filename, "chunkIndex": str(index), "totalChunks": str(len(parts))}
        if tracking_id:
            form["trackingId"] = tracking_id
        if index == 0:
            form.update({k: str(v) for k, v in options.items() if v is not None})
        response = client.post(path, data=form, files={"chunk": ("chunk.csv", part, "text/csv")})
        answers.append(response)
        if response.status_code >= 300 or response.json().get("duplicateOf"):
            break  # refused, or already trained (no more chunks are needed)
        tracking_id = response.json()["trackingId"]
    return answers
