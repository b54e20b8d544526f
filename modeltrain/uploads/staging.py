"""UploadStaging: the chunks of one upload, pushed in order to one Redis list.

The bookkeeping (chunks received, bytes, each chunk's SHA-256) sits in a hash beside the data.
A chunk is checked and applied as one optimistic transaction (WATCH the hash, decide, then
MULTI/EXEC the push and the bookkeeping), so two requests for the same upload, on the same or
on different API replicas, cannot both be applied.

Why not a Lua script and APPEND to one string: measured here, APPEND of 1 MiB to a growing
string cost 6.9 ms and passing the chunk through Lua 2-3 ms more; RPUSH of a 1 MiB element
3.4 ms.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import redis

from modeltrain.config import Settings
from modeltrain.constants import Keys
from modeltrain.lua import LuaScript

# Starts an upload unless too many are unfinished; returns 1 started, 0 full. now in seconds
# since 1970, ttl in seconds.
BEGIN = LuaScript(
    keys=("meta", "in_flight"),
    args=("now", "ttl", "total", "max_in_flight", "id"),
    source="""
redis.call('ZREMRANGEBYSCORE', $k_in_flight, '-inf', $a_now)
if redis.call('ZCARD', $k_in_flight) >= tonumber($a_max_in_flight) then return 0 end
redis.call('ZADD', $k_in_flight, tonumber($a_now) + tonumber($a_ttl), $a_id)
redis.call('HSET', $k_meta, 'total', $a_total, 'received', 0, 'bytes', 0)
redis.call('EXPIRE', $k_meta, tonumber($a_ttl))
return 1
""",
)


class ChunkOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # same index, same bytes: a client retry
    CONFLICT = "conflict"  # same index, other bytes
    OUT_OF_ORDER = "out_of_order"
    INDEX_OUT_OF_RANGE = "index_out_of_range"
    TOTAL_MISMATCH = "total_mismatch"
    TOO_LARGE = "too_large"
    MISSING = "missing"  # no such upload (never started, or expired)


@dataclass(frozen=True)
class ChunkResult:
    outcome: ChunkOutcome
    received_chunks: int
    received_bytes: int
    total_chunks: int

    @property
    def complete(self) -> bool:
        return self.total_chunks > 0 and self.received_chunks == self.total_chunks


class UploadStaging:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        max_bytes: int,
        ttl_seconds: int,
        max_in_flight: int,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._max_in_flight = max_in_flight
        self._begin = BEGIN.register(client)

    @classmethod
    def for_settings(cls, client: redis.Redis, keys: Keys, settings: Settings) -> UploadStaging:
        """Staging with the upload caps the settings give."""
        return cls(
            client,
            keys,
            max_bytes=settings.max_upload_bytes,
            ttl_seconds=settings.upload_ttl_seconds,
            max_in_flight=settings.max_uploads_in_flight,
        )

    def begin(self, upload_id: str, total_chunks: int) -> bool:
        """Start an upload; False when too many uploads are unfinished."""
        keys = {
            "meta": self._keys.upload_meta(upload_id),
            "in_flight": self._keys.uploads_in_flight(),
        }
        answer = self._begin(
            keys, now=int(time.time()), ttl=self._ttl, total=total_chunks,
            max_in_flight=self._max_in_flight, id=upload_id,
        )  # fmt: skip
        return bool(answer == 1)

    def finished(self, upload_id: str) -> None:
        """The upload no longer counts as in flight."""
        self._redis.zrem(self._keys.uploads_in_flight(), upload_id)

    def append(self, upload_id: str, index: int, total: int, data: bytes) -> ChunkResult:
        """Apply chunk ``index`` of ``total`` unless the bookkeeping says otherwise."""
        sha = hashlib.sha256(data).hexdigest()
        meta = self._keys.upload_meta(upload_id)
        key = self._keys.upload_data(upload_id)
        with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(meta)
                    state = cast(
                        list[bytes | None],
                        pipe.hmget(meta, "total", "received", "bytes", f"sha:{index}"),
                    )
                    result = _decide(state, index, total, sha, len(data), self._max_bytes)
                    if result.outcome != ChunkOutcome.STORED:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    pipe.rpush(key, data)
                    pipe.hset(
                        meta,
                        mapping={
                            "received": result.received_chunks,
                            "bytes": result.received_bytes,
                            f"sha:{index}": sha,
                        },
                    )
                    pipe.expire(meta, self._ttl)
                    pipe.expire(key, self._ttl)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another request changed this upload: decide again

    def head(self, upload_id: str, size: int) -> bytes:
        """The first ``size`` bytes staged so far (or fewer, when fewer have arrived)."""
        key = self._keys.upload_data(upload_id)
        parts: list[bytes] = []
        got, index = 0, 0
        while got < size:
            chunk = cast(bytes | None, self._redis.lindex(key, index))
            if chunk is None:
                break
            parts.append(chunk)
            got += len(chunk)
            index += 1
        return b"".join(parts)[:size]

    def read(self, upload_id: str) -> bytes | None:
        """The whole staged upload, or None when its bytes are gone (expired or discarded)."""
        chunks = cast(list[bytes], self._redis.lrange(self._keys.upload_data(upload_id), 0, -1))
        return b"".join(chunks) if chunks else None

    def digest(self, upload_id: str) -> str | None:
        """SHA-256 (hex) of the whole staged upload, or None when its bytes are gone."""
        chunks = cast(list[bytes], self._redis.lrange(self._keys.upload_data(upload_id), 0, -1))
        if not chunks:
            return None
        whole = hashlib.sha256()
        for chunk in chunks:
            whole.update(chunk)
        return whole.hexdigest()

    def keep(self, upload_id: str, seconds: int) -> None:
        """Keep a finished upload (its bytes and bookkeeping) until the job has used it."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.expire(self._keys.upload_meta(upload_id), seconds)
        pipe.expire(self._keys.upload_data(upload_id), seconds)
        pipe.execute()

    def free_bytes(self, upload_id: str) -> None:
        """Drop the data but keep the bookkeeping, so that a retried last chunk is recognised."""
        self._redis.delete(self._keys.upload_data(upload_id))

    def discard(self, upload_id: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._keys.upload_data(upload_id), self._keys.upload_meta(upload_id))
        pipe.zrem(self._keys.uploads_in_flight(), upload_id)
        pipe.execute()


def _decide(
    state: list[bytes | None], index: int, total: int, sha: str, size: int, max_bytes: int
) -> ChunkResult:
    """What a chunk does to an upload whose bookkeeping is ``state``."""
    raw_total, raw_received, raw_bytes, previous_sha = state
    if raw_total is None:
        return ChunkResult(ChunkOutcome.MISSING, 0, 0, 0)
    expected, received, stored = int(raw_total), int(raw_received or 0), int(raw_bytes or 0)

    def result(outcome: ChunkOutcome, chunks: int = received, nbytes: int = stored) -> ChunkResult:
        return ChunkResult(outcome, chunks, nbytes, expected)

    if total != expected:
        return result(ChunkOutcome.TOTAL_MISMATCH)
    if index >= expected:
        return result(ChunkOutcome.INDEX_OUT_OF_RANGE)
    if index < received:
        same = previous_sha is not None and previous_sha.decode() == sha
        return result(ChunkOutcome.DUPLICATE if same else ChunkOutcome.CONFLICT)
    if index > received:
        return result(ChunkOutcome.OUT_OF_ORDER)
    if stored + size > max_bytes:
        return result(ChunkOutcome.TOO_LARGE, nbytes=stored + size)
    return result(ChunkOutcome.STORED, received + 1, stored + size)
