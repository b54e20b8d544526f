"""JobStore: creates, reads and updates job records in Redis.

Every status change goes through one Lua script, so that updates are atomic, a finished job
(completed/failed) never changes again, and progress never goes down.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from modeltrain.constants import STAGE_PROGRESS, JobStatus, Keys, Stage
from modeltrain.jobs.models import Job, JobOptions

# KEYS[1] job hash. ARGV: now, progress ('' = keep), ttl for terminal records (seconds),
# status ('' = keep), then field/value pairs. Returns 1 updated, 0 missing, -1 already final.
_UPDATE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'completed' or status == 'failed' then return -1 end
local progress = tonumber(ARGV[2])
if progress then
  local current = tonumber(redis.call('HGET', KEYS[1], 'progress') or '0')
  if progress > current then redis.call('HSET', KEYS[1], 'progress', progress) end
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'status', ARGV[4]) end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[1])
if ARGV[4] == 'completed' or ARGV[4] == 'failed' then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return 1
"""

# KEYS[1] job hash. ARGV: now, progress, retention seconds, options json.
# Moves an upload's job to `queued` exactly once; returns 1 when this call did it.
_QUEUE_LUA = """
if redis.call('HGET', KEYS[1], 'stage') ~= 'uploading' then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'stage', 'queued', 'progress', ARGV[2], 'options', ARGV[4],
           'updatedAt', ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    return uuid.uuid4().hex


class JobStore:
    def __init__(self, client: redis.Redis, keys: Keys, retention_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self._retention = retention_seconds
        self._update = client.register_script(_UPDATE_LUA)
        self._queue = client.register_script(_QUEUE_LUA)

    # --- create and read -----------------------------------------------------------------
    def create(self, filename: str, options: JobOptions, ttl_seconds: int) -> Job:
        """A new job in `pending/uploading`; it expires after ``ttl_seconds`` unless queued."""
        job_id = new_job_id()
        now = _now_iso()
        mapping = {
            "status": JobStatus.PENDING.value,
            "stage": Stage.UPLOADING.value,
            "progress": 0,
            "filename": filename,
            "createdAt": now,
            "updatedAt": now,
            "options": options.to_json(),
            "attempts": 0,
        }
        key = self._keys.job(job_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, ttl_seconds)
        pipe.zadd(self._keys.jobs_index(), {job_id: time.time()})
        pipe.execute()
        return Job.from_hash(job_id, {k.encode(): str(v).encode() for k, v in mapping.items()})

    def get(self, job_id: str) -> Job | None:
        raw = self._redis.hgetall(self._keys.job(job_id))
        return Job.from_hash(job_id, raw) if raw else None

    def list(self, status: JobStatus | None = None, limit: int = 100) -> list[Job]:
        """Jobs newest first; ids whose record has expired are dropped from the index."""
        index = self._keys.jobs_index()
        self._redis.zremrangebyscore(index, "-inf", time.time() - self._retention)
        jobs: list[Job] = []
        start, page = 0, max(limit, 100)
        while len(jobs) < limit:
            ids = [i.decode() for i in self._redis.zrevrange(index, start, start + page - 1)]
            if not ids:
                break
            pipe = self._redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.hgetall(self._keys.job(job_id))
            gone = []
            for job_id, raw in zip(ids, pipe.execute(), strict=True):
                if not raw:
                    gone.append(job_id)
                    continue
                job = Job.from_hash(job_id, raw)
                if status is None or job.status == status:
                    jobs.append(job)
            if gone:
                self._redis.zrem(index, *gone)
            start += page
        return jobs[:limit]

    # --- updates -------------------------------------------------------------------------
    def update(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        stage: Stage | None = None,
        progress: int | None = None,
        **values: Any,
    ) -> bool:
        """Apply an update unless the job is finished; True when it was applied."""
        if stage is not None:
            values["stage"] = stage.value
            if progress is None:
                progress = STAGE_PROGRESS[stage]
        args: list[Any] = [
            _now_iso(),
            "" if progress is None else int(progress),
            self._retention,
            "" if status is None else status.value,
        ]
        for name, value in values.items():
            if isinstance(value, dict | list):
                value = orjson.dumps(value).decode()
            args.extend([name, "" if value is None else value])
        return self._update(keys=[self._keys.job(job_id)], args=args) == 1

    def touch_upload(self, job_id: str, ttl_seconds: int) -> None:
        """Keep an upload's job alive while chunks arrive."""
        self._redis.expire(self._keys.job(job_id), ttl_seconds)

    def mark_queued(self, job_id: str, options: JobOptions) -> bool:
        """Move a finished upload's job to `queued`; True only for the one call that did it."""
        args = [_now_iso(), STAGE_PROGRESS[Stage.QUEUED], self._retention, options.to_json()]
        return self._queue(keys=[self._keys.job(job_id)], args=args) == 1

    def start(self, job_id: str) -> bool:
        if not self.update(job_id, status=JobStatus.RUNNING, stage=Stage.LOADING):
            return False
        self._redis.hincrby(self._keys.job(job_id), "attempts", 1)
        return True

    def progress(self, job_id: str, stage: Stage, progress: int | None = None) -> bool:
        return self.update(job_id, stage=stage, progress=progress)

    def complete(self, job_id: str, result: dict[str, Any], model_id: str) -> bool:
        return self.update(
            job_id,
            status=JobStatus.COMPLETED,
            stage=Stage.DONE,
            progress=100,
            result=result,
            modelId=model_id,
            error="",
        )

    def fail(self, job_id: str, error: str) -> bool:
        return self.update(job_id, status=JobStatus.FAILED, error=error)

    def ping(self) -> bool:
        return bool(self._redis.ping())
