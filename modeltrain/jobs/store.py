"""JobStore: creates, reads and updates job records in Redis.

Every status change goes through one Lua script, so that updates are atomic, a finished job
(completed/failed) never changes again, and progress never goes down.
"""

from __future__ import annotations

import asyncio
import builtins
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import redis
import redis.asyncio

from modeltrain.constants import (
    CANCELLED_MESSAGE,
    STAGE_PROGRESS,
    ClaimOutcome,
    HeartbeatVerdict,
    JobKind,
    JobStatus,
    Keys,
    Stage,
)
from modeltrain.jobs import scripts
from modeltrain.jobs.models import Field, Job, JobOptions, number_text


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_STATUS_JSON = Field.STATUS_JSON.value


def new_job_id() -> str:
    return uuid.uuid4().hex


# redis-py types its replies as bytes | str | … whichever way a client decodes; ours never
# decode (decode_responses=False), so a reply is bytes.
def _record(raw: Any) -> dict[bytes, bytes]:
    return cast(dict[bytes, bytes], raw)


def _texts(raw: Any) -> builtins.list[str]:
    return [item.decode() for item in raw]


class AsyncJobReader:
    """Job reads for the API's event loop: status polls are the service's hottest path."""

    def __init__(self, client: redis.asyncio.Redis, keys: Keys, timeout: float = 10.0) -> None:
        self._redis = client
        self._keys = keys
        self._timeout = timeout  # seconds
        self._render = scripts.RENDER.register(client)

    async def get(self, job_id: str) -> Job | None:
        raw = await self._answer(self._redis.hgetall(self._keys.job(job_id)))
        return Job.from_hash(job_id, _record(raw)) if raw else None

    async def status_document(self, job_id: str) -> bytes | None:
        """The job's status document as JSON, or None for no such job: one ``HGET``."""
        key = self._keys.job(job_id)
        doc = await self._answer(self._redis.hget(key, _STATUS_JSON))
        if doc is None:  # no such job, or one written before documents were kept
            doc = await self._answer(self._render({"job": key}, id=job_id))
        return cast(bytes | None, doc)

    async def _answer(self, command: Awaitable[Any]) -> Any:
        """A command's reply within the timeout (a plain coroutine: an async context manager
        made per poll cost a tenth of the poll's time, profiled)."""
        try:
            async with asyncio.timeout(self._timeout):
                return await command
        except TimeoutError:
            raise redis.exceptions.TimeoutError("Redis did not answer in time") from None


class JobStore:
    def __init__(self, client: redis.Redis, keys: Keys, retention_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self._retention = retention_seconds
        self._create = scripts.CREATE.register(client)
        self._update = scripts.UPDATE.register(client)
        self._queue = scripts.QUEUE.register(client)
        self._claim = scripts.CLAIM.register(client)
        self._heartbeat = scripts.HEARTBEAT.register(client)
        self._requeue = scripts.REQUEUE_STALE.register(client)
        self._hand_back = scripts.HAND_BACK.register(client)
        self._finish = scripts.REQUEST_FINISH.register(client)
        self._forget = scripts.FORGET.register(client)
        self._take_callback = scripts.TAKE_CALLBACK.register(client)
        self._record_callback = scripts.RECORD_CALLBACK.register(client)

    # --- create and read -----------------------------------------------------------------
    def create(
        self,
        filename: str,
        options: JobOptions,
        ttl_seconds: int,
        job_id: str | None = None,
        retrain_of: str | None = None,
        callback_url: str | None = None,
        kind: JobKind = JobKind.TRAIN,
    ) -> Job:
        """A new job in `pending/uploading`; it expires after ``ttl_seconds`` unless queued."""
        job_id = job_id or new_job_id()
        pairs: builtins.list[Any] = [Field.FILENAME.value, filename]
        pairs += [Field.OPTIONS.value, options.to_json(), Field.KIND.value, kind.value]
        if retrain_of is not None:
            pairs += [Field.RETRAIN_OF.value, retrain_of]
        if callback_url is not None:
            pairs += [Field.CALLBACK_URL.value, callback_url]
        self._create(
            self._job_keys(job_id), pairs, now=_now_iso(), ttl=ttl_seconds, epoch=time.time(),
            id=job_id,
        )  # fmt: skip
        job = self.get(job_id)
        assert job is not None  # just written
        return job

    def get(self, job_id: str) -> Job | None:
        raw = self._redis.hgetall(self._keys.job(job_id))
        return Job.from_hash(job_id, _record(raw)) if raw else None

    def list(self, status: JobStatus | None = None, limit: int = 100) -> list[Job]:
        """Jobs newest first; ids whose record has expired are dropped from the index."""
        index = self._keys.jobs_index()
        self._redis.zremrangebyscore(index, "-inf", time.time() - self._retention)
        jobs: list[Job] = []
        start, page = 0, max(limit, 100)
        while len(jobs) < limit:
            ids = _texts(self._redis.zrevrange(index, start, start + page - 1))
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
                job = Job.from_hash(job_id, _record(raw))
                if status is None or job.status == status:
                    jobs.append(job)
            if gone:
                self._redis.zrem(index, *gone)
            start += page
        return jobs[:limit]

    def count_by_status(self, limit: int = 100_000) -> dict[JobStatus, int]:
        """How many known jobs are in each status (reads every record: for metrics)."""
        ids = _texts(self._redis.zrevrange(self._keys.jobs_index(), 0, limit - 1))
        pipe = self._redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hget(self._keys.job(job_id), Field.STATUS.value)
        counts: dict[JobStatus, int] = {}
        for raw in pipe.execute():
            if raw is not None:
                status = JobStatus(raw.decode())
                counts[status] = counts.get(status, 0) + 1
        return counts

    # --- updates -------------------------------------------------------------------------
    def update(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        stage: Stage | None = None,
        progress: int | None = None,
        options: JobOptions | None = None,
        result: dict[str, Any] | None = None,
        model_id: str | None = None,
        error: str | None = None,
        best_score: float | None = None,
        eta_seconds: float | None = None,
        duplicate_of: str | None = None,
    ) -> bool:
        """Apply an update unless the job is finished; True when it was applied. A value not
        given (None) is left as it was; ``error=""`` clears an earlier error."""
        if stage is not None and progress is None:
            progress = STAGE_PROGRESS[stage]
        values: dict[Field, str | None] = {
            Field.STAGE: None if stage is None else stage.value,
            Field.OPTIONS: None if options is None else options.to_json(),
            Field.RESULT: None if result is None else orjson.dumps(result).decode(),
            Field.MODEL_ID: model_id,
            Field.ERROR: error,
            Field.BEST_SCORE: None if best_score is None else number_text(best_score),
            Field.ETA_SECONDS: None if eta_seconds is None else number_text(eta_seconds),
            Field.DUPLICATE_OF: duplicate_of,
        }
        pairs = [each for f, v in values.items() if v is not None for each in (f.value, v)]
        answer = self._update(
            self._job_keys(job_id), pairs, now=_now_iso(),
            progress="" if progress is None else int(progress), ttl=self._retention,
            status="" if status is None else status.value, id=job_id,
        )  # fmt: skip
        return bool(answer == 1)

    def _job_keys(self, job_id: str) -> dict[str, str]:
        """Every key a script may name for this job (each script takes the ones it uses)."""
        return {
            "job": self._keys.job(job_id),
            "lease": self._keys.lease(job_id),
            "running": self._keys.running(),
            "due": self._keys.callbacks_due(),
            "index": self._keys.jobs_index(),
            "undispatched": self._keys.undispatched(),
        }

    def touch_upload(self, job_id: str, ttl_seconds: int) -> None:
        """Keep an upload's job alive while chunks arrive."""
        self._redis.expire(self._keys.job(job_id), ttl_seconds)

    def mark_queued(self, job_id: str, options: JobOptions) -> bool:
        """Move a finished upload's job to `queued`; True only for the one call that did it."""
        answer = self._queue(
            self._job_keys(job_id), now=_now_iso(), progress=STAGE_PROGRESS[Stage.QUEUED],
            retention=self._retention, options=options.to_json(), epoch=time.time(), id=job_id,
        )  # fmt: skip
        return bool(answer == 1)

    def mark_dispatched(self, job_id: str) -> None:
        """The job's Celery message is sent."""
        self._redis.zrem(self._keys.undispatched(), job_id)

    def undispatched_ids(self, older_than: float) -> builtins.list[str]:
        """Queued jobs whose message was not confirmed sent ``older_than`` seconds after."""
        cutoff = time.time() - older_than
        return _texts(self._redis.zrangebyscore(self._keys.undispatched(), "-inf", cutoff))

    # --- leases: who runs a job, and noticing when that worker is gone -------------------
    def claim(self, job_id: str, owner: str, lease_seconds: int, max_attempts: int) -> ClaimOutcome:
        """Take a job to run: CLAIMED, or why not (EXHAUSTED attempts: then the job is failed)."""
        answer = self._claim(
            self._job_keys(job_id), now=_now_iso(), owner=owner, lease_ttl=lease_seconds,
            max_attempts=max_attempts, progress=STAGE_PROGRESS[Stage.LOADING],
            retention=self._retention, id=job_id,
        )  # fmt: skip
        return ClaimOutcome(answer.decode())

    def heartbeat(self, job_id: str, owner: str, lease_seconds: int) -> HeartbeatVerdict:
        """Renew ``owner``'s lease while it runs the job, and say whether it should go on."""
        answer = self._heartbeat(self._job_keys(job_id), owner=owner, lease_ttl=lease_seconds)
        return HeartbeatVerdict(answer.decode())

    def running_ids(self) -> builtins.list[str]:
        return _texts(self._redis.smembers(self._keys.running()))

    def requeue_if_stale(self, job_id: str) -> bool:
        """Put a running job whose lease lapsed back in the queue; True when this call did."""
        return bool(self._requeue(self._job_keys(job_id), now=_now_iso(), id=job_id) == 1)

    def progress(
        self,
        job_id: str,
        stage: Stage,
        progress: int | None = None,
        *,
        best_score: float | None = None,
        eta_seconds: float | None = None,
    ) -> bool:
        """Move a job on (``progress`` None: the stage's start), with the model search's best
        score and time left when known; a value not given is left as it was."""
        return self.update(
            job_id, stage=stage, progress=progress, best_score=best_score, eta_seconds=eta_seconds
        )

    def complete(
        self,
        job_id: str,
        result: dict[str, Any],
        model_id: str,
        *,
        options: JobOptions | None = None,
        duplicate_of: str | None = None,
    ) -> bool:
        return self.update(
            job_id,
            status=JobStatus.COMPLETED,
            stage=Stage.DONE,
            progress=100,
            options=options,
            result=result,
            model_id=model_id,
            error="",
            duplicate_of=duplicate_of,
        )

    def complete_as_duplicate(self, job_id: str, original: Job, options: JobOptions) -> bool:
        """An upload of the same bytes and options as ``original`` (completed): the job ends
        at once with its result and model, saying whose duplicate it is."""
        assert original.result is not None and original.model_id is not None
        return self.complete(
            job_id, original.result, original.model_id, options=options, duplicate_of=original.id
        )

    def fail(self, job_id: str, error: str) -> bool:
        return self.update(job_id, status=JobStatus.FAILED, error=error)

    def hand_back(self, job_id: str, owner: str) -> bool:
        """``owner`` stops running the job without finishing it (shutdown): back to the queue."""
        answer = self._hand_back(self._job_keys(job_id), now=_now_iso(), owner=owner, id=job_id)
        return bool(answer == 1)

    def request_finish(self, job_id: str) -> bool:
        """Ask a running job to stop its search and keep the best model so far."""
        return bool(self._finish(self._job_keys(job_id), now=_now_iso(), id=job_id) == 1)

    def cancel(self, job_id: str) -> bool:
        """End a job that has not finished as `failed`, saying it was cancelled. A queued job
        then never starts; a running one stops at its next checkpoint."""
        return self.update(job_id, status=JobStatus.FAILED, error=CANCELLED_MESSAGE)

    # --- webhooks: the calls of ended jobs' callbackUrl ------------------------------------
    def due_callbacks(self, limit: int = 20) -> builtins.list[str]:
        """Ended jobs whose callback is due now (not held by a sender)."""
        due = self._keys.callbacks_due()
        return _texts(self._redis.zrangebyscore(due, "-inf", time.time(), start=0, num=limit))

    def take_callback(self, job_id: str, hold_seconds: float) -> bool:
        """Take a due callback to send it; True for the one sender that did."""
        now = time.time()
        answer = self._take_callback(
            self._job_keys(job_id), id=job_id, now=now, held_until=now + hold_seconds
        )
        return bool(answer == 1)

    def record_callback(self, job_id: str, attempt: dict[str, Any], retry_at: float | None) -> bool:
        """Add one call to the job's `callbacks`; try again at ``retry_at`` (None: no more)."""
        answer = self._record_callback(
            self._job_keys(job_id), id=job_id, attempt=orjson.dumps(attempt),
            retry_at="" if retry_at is None else retry_at,
        )  # fmt: skip
        return bool(answer == 1)

    def forget(self, job_id: str) -> bool | None:
        """Remove a finished job's record and list entry: True when done, None for no such job,
        False while it has not finished (nothing changes)."""
        answer = self._forget(self._job_keys(job_id), id=job_id)
        return None if answer == 0 else answer == 1
