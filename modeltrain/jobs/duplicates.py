"""Duplicate uploads: completed jobs indexed by the SHA-256 of their bytes and the options they
were trained with, so that the same file with the same options is not trained twice.

The index is written only with digests the service computed itself (when an upload's last
chunk landed), never with a client's claim, and it is checked again on use: an entry whose job
was forgotten, or whose model version was deleted, is dropped."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import redis

from modeltrain.constants import JobStatus, Keys
from modeltrain.jobs.models import Job, JobOptions
from modeltrain.jobs.store import JobStore


class DuplicateIndex:
    def __init__(
        self, client: redis.Redis, keys: Keys, store: JobStore, retention_seconds: int
    ) -> None:
        self._redis = client
        self._keys = keys
        self._store = store
        self._retention = retention_seconds

    def _key(self, options: JobOptions) -> str:
        digest = hashlib.sha256(options.duplicate_key().encode()).hexdigest()
        return self._keys.duplicate(digest)

    def remember(self, job_id: str, options: JobOptions) -> None:
        """Index a job that just completed (when the service hashed its bytes)."""
        if options.file_sha256:
            self._redis.set(self._key(options), job_id, ex=self._retention)

    def find(
        self, options: JobOptions, model_exists: Callable[[str], bool] = lambda _: True
    ) -> Job | None:
        """The completed job trained on the same bytes with the same options, if any."""
        if not options.file_sha256:
            return None
        key = self._key(options)
        raw = self._redis.get(key)
        if raw is None:
            return None
        job = self._store.get(raw.decode())  # type: ignore[union-attr]
        if (
            job is None
            or job.status != JobStatus.COMPLETED
            or not job.model_id
            or not model_exists(job.model_id)
        ):
            self._redis.delete(key)
            return None
        return job
