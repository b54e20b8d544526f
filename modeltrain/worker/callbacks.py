"""Webhooks: when a job with a `callbackUrl` ends (wherever it ended: a worker, the API, the
reaper), the job store marks its call due; a sender thread in each worker's main process POSTs
the job's status document there, signed, and records every try in the job's `callbacks`.

A failed try (a timeout, an error, any answer but 2xx — redirects are not followed) is tried
again after 1 s, 2 s, 4 s … up to `MODELTRAIN_WEBHOOK_ATTEMPTS` tries. The job itself is not
changed by how its callback went. Only hosts in `MODELTRAIN_WEBHOOK_ALLOWED_HOSTS` are called;
the API refuses any other `callbackUrl` (jobs/options.py), and the sender checks again."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from modeltrain import __version__
from modeltrain.config import Settings
from modeltrain.constants import (
    WEBHOOK_BACKOFF_MAX_SECONDS,
    WEBHOOK_BACKOFF_SECONDS,
    WEBHOOK_HOLD_SECONDS,
)
from modeltrain.jobs import JobStore
from modeltrain.jobs.options import callback_refusal
from modeltrain.logging import fields
from modeltrain.runtime.periodic import PeriodicThread

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Modeltrain-Signature"
POLL_SECONDS = 0.5


def signature(secret: str, body: bytes) -> str:
    """The header's value: ``sha256=<hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(tries: int) -> float:
    """Seconds before the next try after ``tries`` failed ones."""
    return float(min(WEBHOOK_BACKOFF_SECONDS * 2 ** (tries - 1), WEBHOOK_BACKOFF_MAX_SECONDS))


class CallbackSender(PeriodicThread):
    name = "callbacks"

    def __init__(self, store: JobStore, settings: Settings) -> None:
        super().__init__(POLL_SECONDS)
        self._store = store
        self._settings = settings
        self._http = httpx.Client(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": f"modeltrain/{__version__}"},
        )

    def send_due(self) -> int:
        """Make every due call once; returns how many were made."""
        made = 0
        hold = self._settings.webhook_timeout_seconds + WEBHOOK_HOLD_SECONDS
        for job_id in self._store.due_callbacks():
            if self._store.take_callback(job_id, hold):
                self._call(job_id)
                made += 1
        return made

    def _call(self, job_id: str) -> None:
        job = self._store.get(job_id)
        if job is None or not job.callback_url or job.status_json is None:
            self._store.record_callback(job_id, {"error": "the job is gone"}, None)
            return
        tries = len(job.callbacks or []) + 1
        attempt: dict[str, Any] = {
            "attempt": tries,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        refusal = callback_refusal(self._settings, job.callback_url)
        if refusal is not None:  # the settings changed since the job was accepted
            attempt.update(ok=False, error=refusal)
            self._store.record_callback(job_id, attempt, None)
            return
        body = job.status_json
        started = time.monotonic()
        try:
            answer = self._http.post(
                job.callback_url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: signature(self._settings.webhook_secret or "", body),
                    "X-Modeltrain-Delivery": f"{job_id}:{tries}",
                },
            )
            attempt.update(ok=answer.is_success, status=answer.status_code)
        except httpx.HTTPError as exc:
            attempt.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
        attempt["seconds"] = round(time.monotonic() - started, 3)
        again = not attempt["ok"] and tries < self._settings.webhook_attempts
        retry_at = time.time() + backoff(tries) if again else None
        self._store.record_callback(job_id, attempt, retry_at)
        log.info(
            "job.callback.called",
            extra=fields(job_id=job_id, attempt=tries, ok=attempt["ok"], retry=again),
        )

    def tick(self) -> None:
        self.send_due()

    def stop(self) -> None:
        super().stop()
        self._http.close()
