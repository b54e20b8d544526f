"""BatchResults: a batch job's result CSV, kept in Redis as a list of blocks (the first holds
the header) for as long as the job's record, so that any API replica can stream it.

An attempt writes its blocks under a key of its own and renames it to the job's result key
only when every block is in: a worker lost mid-job leaves no half result behind, and the next
attempt starts from an empty list. A lost attempt's draft expires as an unfinished upload does
(``MODELTRAIN_UPLOAD_TTL_SECONDS`` after its last block), a live one is renewed by each block."""

from __future__ import annotations

from collections.abc import Iterator

import redis

from modeltrain.constants import Keys

BLOCKS_PER_READ = 4  # blocks fetched per round trip while streaming


class BatchResults:
    def __init__(
        self, client: redis.Redis, keys: Keys, ttl_seconds: int, draft_ttl_seconds: int
    ) -> None:
        self._redis = client
        self._keys = keys
        self._ttl = ttl_seconds  # the job records' retention
        self._draft_ttl = draft_ttl_seconds

    def _draft(self, job_id: str, attempt: str) -> str:
        return f"{self._keys.batch_result(job_id)}:draft:{attempt}"

    def begin(self, job_id: str, attempt: str) -> str:
        """An empty draft for this attempt; returns its key."""
        key = self._draft(job_id, attempt)
        self._redis.delete(key)
        return key

    def append(self, draft: str, block: bytes) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.rpush(draft, block)
        pipe.expire(draft, self._draft_ttl)
        pipe.execute()

    def publish(self, job_id: str, draft: str) -> None:
        """The draft becomes the job's result (atomically, replacing any earlier one)."""
        final = self._keys.batch_result(job_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.rename(draft, final)
        pipe.expire(final, self._ttl)
        pipe.execute()

    def discard(self, draft: str) -> None:
        self._redis.delete(draft)

    def exists(self, job_id: str) -> bool:
        return bool(self._redis.exists(self._keys.batch_result(job_id)))

    def stream(self, job_id: str) -> Iterator[bytes]:
        """The result's blocks in order (a few per round trip: a 25 MB result is never held
        whole in the API's memory)."""
        key = self._keys.batch_result(job_id)
        start = 0
        while True:
            blocks = self._redis.lrange(key, start, start + BLOCKS_PER_READ - 1)
            if not blocks:
                return
            yield from blocks  # type: ignore[misc]
            start += len(blocks)

    def delete(self, job_id: str) -> None:
        self._redis.delete(self._keys.batch_result(job_id))
