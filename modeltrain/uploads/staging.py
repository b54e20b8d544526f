"""UploadStaging: the chunks of one upload, appended in order to one Redis string.

The bookkeeping (chunks received, bytes, each chunk's SHA-256) sits in a hash beside the data,
and one Lua script checks and applies a chunk atomically, so two requests for the same upload
(on the same or on different API replicas) cannot both be applied.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from enum import StrEnum

import redis

from modeltrain.constants import Keys

# KEYS[1] meta hash, KEYS[2] data string.
# ARGV: index, total, sha256, max bytes, ttl seconds, chunk bytes.
# Returns {outcome, receivedChunks, receivedBytes, totalChunks}.
_APPEND_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing', 0, 0, 0} end
local total = tonumber(redis.call('HGET', KEYS[1], 'total'))
local received = tonumber(redis.call('HGET', KEYS[1], 'received'))
local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes'))
local index = tonumber(ARGV[1])
if tonumber(ARGV[2]) ~= total then return {'total_mismatch', received, bytes, total} end
if index >= total then return {'index_out_of_range', received, bytes, total} end
if index < received then
  if redis.call('HGET', KEYS[1], 'sha:' .. index) == ARGV[3] then
    return {'duplicate', received, bytes, total}
  end
  return {'conflict', received, bytes, total}
end
if index > received then return {'out_of_order', received, bytes, total} end
local size = bytes + string.len(ARGV[6])
if size > tonumber(ARGV[4]) then return {'too_large', received, size, total} end
redis.call('APPEND', KEYS[2], ARGV[6])
received = received + 1
redis.call('HSET', KEYS[1], 'received', received, 'bytes', size, 'sha:' .. index, ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return {'stored', received, size, total}
"""


# KEYS: meta hash, in-flight sorted set. ARGV: now, ttl (s), total chunks, max in flight.
# Starts an upload unless too many are unfinished; returns 1 started, 0 full.
_BEGIN_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
local id = string.match(KEYS[1], ':upload:(.+):meta$')
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[2]), id)
redis.call('HSET', KEYS[1], 'total', ARGV[3], 'received', 0, 'bytes', 0)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


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
        max_in_flight: int = 1_000_000,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._max_bytes = max_bytes
        self._ttl = ttl_seconds
        self._max_in_flight = max_in_flight
        self._append = client.register_script(_APPEND_LUA)
        self._begin = client.register_script(_BEGIN_LUA)

    def begin(self, upload_id: str, total_chunks: int) -> bool:
        """Start an upload; False when too many uploads are unfinished."""
        keys = [self._keys.upload_meta(upload_id), self._keys.uploads_in_flight()]
        args = [int(time.time()), self._ttl, total_chunks, self._max_in_flight]
        return self._begin(keys=keys, args=args) == 1

    def finished(self, upload_id: str) -> None:
        """The upload no longer counts as in flight."""
        self._redis.zrem(self._keys.uploads_in_flight(), upload_id)

    def append(self, upload_id: str, index: int, total: int, data: bytes) -> ChunkResult:
        sha = hashlib.sha256(data).hexdigest()
        raw = self._append(
            keys=[self._keys.upload_meta(upload_id), self._keys.upload_data(upload_id)],
            args=[index, total, sha, self._max_bytes, self._ttl, data],
        )
        outcome, received, size, total_chunks = raw
        return ChunkResult(
            ChunkOutcome(outcome.decode()), int(received), int(size), int(total_chunks)
        )

    def head(self, upload_id: str, size: int) -> bytes:
        """The first ``size`` bytes staged so far."""
        return self._redis.getrange(self._keys.upload_data(upload_id), 0, size - 1) or b""

    def read(self, upload_id: str) -> bytes | None:
        """The whole staged upload, or None when its bytes are gone (expired or discarded)."""
        return self._redis.get(self._keys.upload_data(upload_id))

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
