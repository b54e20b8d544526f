"""ServiceClient: chunked uploads with retries, job status, models and predictions over HTTP."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import httpx

DEFAULT_CHUNK_BYTES = 1024 * 1024  # bytes per upload chunk
RETRIES = 4  # tries per chunk on network errors and 5xx answers
FINISHED = ("completed", "failed")


class ServiceError(Exception):
    """The service refused or failed a request; the message is its `error`."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServiceClient:
    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- requests ------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(RETRIES):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == RETRIES - 1:
                    raise ServiceError(f"cannot reach {self._http.base_url}: {exc}") from exc
                time.sleep(0.5 * 2**attempt)
                continue
            if response.status_code >= 500 and attempt < RETRIES - 1:
                time.sleep(0.5 * 2**attempt)
                continue
            if response.status_code >= 400:
                try:
                    message = response.json().get("error", response.text)
                except ValueError:
                    message = response.text
                raise ServiceError(message, response.status_code)
            return response
        raise AssertionError("unreachable")

    def upload(
        self,
        path: Path,
        *,
        options: Mapping[str, Any] | None = None,
        force: bool = False,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Send the file in ordered chunks (each retried as the protocol allows); returns the
        last answer (with `trackingId` and `status`). Chunk 0 carries the file's SHA-256: when
        the service already trained on the same bytes with the same options, it answers with
        `duplicateOf` and `modelId` and nothing more is sent (unless ``force``). ``options``
        are the training options by their field names (training_options.py); None is left out."""
        data = path.read_bytes()
        fields = {
            **{
                name: None if value is None else str(value)
                for name, value in (options or {}).items()
            },
            "fileSha256": hashlib.sha256(data).hexdigest(),
            "force": "true" if force else None,
        }
        return self._send_chunks(
            "/api/model-train/start", path.name, data, fields, chunk_bytes, on_progress
        )

    def upload_batch(
        self,
        path: Path,
        model_id: str,
        *,
        probabilities: bool = False,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Send a CSV to predict as a batch job, in ordered chunks; returns the last answer."""
        data = path.read_bytes()
        options = {
            "modelId": model_id,
            "probabilities": "true" if probabilities else None,
            "fileSha256": hashlib.sha256(data).hexdigest(),
        }
        return self._send_chunks(
            "/api/model-inference/batch", path.name, data, options, chunk_bytes, on_progress
        )

    def _send_chunks(
        self,
        route: str,
        filename: str,
        data: bytes,
        options: dict[str, str | None],
        chunk_bytes: int,
        on_progress: Callable[[int, int], None] | None,
    ) -> dict[str, Any]:
        total = max(1, -(-len(data) // chunk_bytes))
        tracking_id: str | None = None
        answer: dict[str, Any] = {}
        for index in range(total):
            part = data[index * chunk_bytes : (index + 1) * chunk_bytes]
            form = {
                "filename": filename,
                "chunkIndex": str(index),
                "totalChunks": str(total),
                "chunkSha256": hashlib.sha256(part).hexdigest(),
            }
            if tracking_id:
                form["trackingId"] = tracking_id
            else:
                form.update({k: v for k, v in options.items() if v is not None})
            response = self._request("POST", route, data=form, files={"chunk": (filename, part)})
            answer = response.json()
            tracking_id = answer["trackingId"]
            if answer.get("duplicateOf"):
                break
            if on_progress:
                on_progress(answer["receivedBytes"], len(data))
        return answer

    def job(self, tracking_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/model-train/status/{tracking_id}").json()

    def jobs(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return self._request("GET", "/api/model-train/status", params=params).json()

    def batch_job(self, tracking_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/model-inference/batch/{tracking_id}").json()

    def save_batch_result(self, tracking_id: str, out: BinaryIO) -> int:
        """Stream a completed batch job's result CSV into ``out``; returns the bytes written."""
        path = f"/api/model-inference/batch/{tracking_id}/result"
        written = 0
        with self._http.stream("GET", path) as response:
            if response.status_code >= 400:
                response.read()
                raise ServiceError(
                    response.json().get("error", response.text), response.status_code
                )
            for block in response.iter_bytes():
                out.write(block)
                written += len(block)
        return written

    def follow(
        self, tracking_id: str, interval: float = 0.5, batch: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The job's status until it finishes (polling)."""
        while True:
            job = self.batch_job(tracking_id) if batch else self.job(tracking_id)
            yield job
            if job["status"] in FINISHED:
                return
            time.sleep(interval)

    def retrain(self, tracking_id: str, **changes: Any) -> dict[str, Any]:
        body = {k: v for k, v in changes.items() if v is not None}
        return self._request("POST", f"/api/model-train/{tracking_id}/retrain", json=body).json()

    def forget_job(self, tracking_id: str) -> dict[str, Any]:
        return self._request("DELETE", f"/api/model-train/{tracking_id}").json()

    def set_alias(self, name: str, alias: str, version: str) -> dict[str, Any]:
        path = f"/api/models/{name}/aliases/{alias}"
        return self._request("PUT", path, json={"version": version}).json()

    def remove_alias(self, name: str, alias: str) -> dict[str, Any]:
        return self._request("DELETE", f"/api/models/{name}/aliases/{alias}").json()

    def delete_version(self, name: str, version: str, force: bool = False) -> dict[str, Any]:
        path = f"/api/models/{name}/versions/{version}"
        return self._request("DELETE", path, params={"force": str(force).lower()}).json()

    def models(self) -> list[dict[str, Any]]:
        return self._request("GET", "/api/models").json()

    def predict_csv(self, model_id: str, csv: bytes, probabilities: bool = False) -> bytes:
        """Predictions for a CSV file, as CSV."""
        return self._request(
            "POST",
            "/api/model-inference/predict",
            params={"modelId": model_id, "probabilities": str(probabilities).lower()},
            content=csv,
            headers={"content-type": "text/csv", "accept": "text/csv"},
        ).content
