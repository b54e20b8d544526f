"""JobStore and UploadStaging against a real Redis server."""

from __future__ import annotations

import asyncio
import threading
import uuid

import orjson
import pytest
import redis.asyncio

from modeltrain.constants import JobStatus, Keys, Stage
from modeltrain.jobs import AsyncJobReader, JobOptions, JobStore
from modeltrain.jobs.models import STATUS_DOCUMENT, Field
from modeltrain.uploads.staging import ChunkOutcome, UploadStaging

pytestmark = pytest.mark.integration


@pytest.fixture
def keys(redis_server) -> Keys:
    return Keys(f"{redis_server.prefix}-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def store(redis_client, keys) -> JobStore:
    return JobStore(redis_client, keys, retention_seconds=3600)


@pytest.fixture
def staging(redis_client, keys) -> UploadStaging:
    return UploadStaging(redis_client, keys, max_bytes=100, ttl_seconds=60, max_in_flight=1000)


def test_progress_never_goes_down_and_finished_jobs_never_change(store):
    job = store.create("a.csv", JobOptions(), ttl_seconds=60)
    assert store.mark_queued(job.id, JobOptions())
    assert not store.mark_queued(job.id, JobOptions()), "queued twice"
    assert store.claim(job.id, "w", 30, 2) == "claimed"
    store.progress(job.id, Stage.TRAINING, 50)
    store.progress(job.id, Stage.TRAINING, 30)
    assert store.get(job.id).progress == 50
    assert store.fail(job.id, "boom")
    assert not store.complete(job.id, {"x": 1}, "models:/m/1")
    final = store.get(job.id)
    assert final.status == JobStatus.FAILED and final.error == "boom" and final.model_id is None


def test_a_completed_job_holds_its_result_and_model_id(store):
    job = store.create("a.csv", JobOptions(target="y"), ttl_seconds=60)
    store.mark_queued(job.id, JobOptions(target="y"))
    store.claim(job.id, "w", 30, 2)
    store.complete(job.id, {"metrics": {"r2": 0.9}}, "models:/m/3")
    done = store.get(job.id)
    assert done.status == JobStatus.COMPLETED and done.progress == 100
    assert done.result == {"metrics": {"r2": 0.9}} and done.model_id == "models:/m/3"
    assert done.options.target == "y" and done.attempts == 1


def _documents(redis_server, keys, job_ids: list[str]) -> list[dict | None]:
    """Status documents as the API's poll reads them (its async reader, one HGET each)."""

    async def read() -> list[dict | None]:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            reader = AsyncJobReader(client, keys)
            docs = [await reader.status_document(job_id) for job_id in job_ids]
        finally:
            await client.aclose()
        return [None if doc is None else orjson.loads(doc) for doc in docs]

    return asyncio.run(read())


def test_every_change_keeps_the_stored_status_document_current(store, redis_server, keys):
    options = JobOptions(target="y", time_budget=7.5)
    job = store.create('a "quoted"/name.csv', options, ttl_seconds=60)
    seen = []

    def check() -> dict:
        [doc] = _documents(redis_server, keys, [job.id])
        current = store.get(job.id)
        assert doc["trackingId"] == job.id and list(doc)[1:] == [k for k, _, _ in STATUS_DOCUMENT]
        assert doc["status"] == current.status.value and doc["stage"] == current.stage.value
        assert doc["progress"] == current.progress and doc["attempts"] == current.attempts
        assert doc["updatedAt"] == current.updated_at and doc["worker"] == current.worker
        assert doc["bestScore"] == current.best_score and doc["eta"] == current.eta_seconds
        assert doc["result"] == current.result and doc["error"] == current.error
        seen.append(doc["stage"])
        return doc

    first = check()
    assert first["filename"] == 'a "quoted"/name.csv' and first["result"] is None
    assert first["options"]["target"] == "y" and first["options"]["timeBudget"] == 7.5
    store.mark_queued(job.id, options)
    check()
    store.claim(job.id, "w1", 30, 2)
    assert check()["worker"] == "w1"
    store.progress(job.id, Stage.TRAINING, 40, best_score=0.875, eta_seconds=12.5)
    assert check()["bestScore"] == 0.875
    store.progress(job.id, Stage.TRAINING, 45, best_score=float("nan"))  # not JSON: left null
    store.request_finish(job.id)
    check()
    store.complete(job.id, {"metrics": {"r2": 0.9}, "warnings": []}, "models:/m/3")
    done = check()
    assert done["modelId"] == "models:/m/3" and done["result"]["warnings"] == []
    assert seen == ["uploading", "queued", "loading", "training", "training", "done"]


def test_a_record_written_before_documents_were_kept_gets_one_on_its_first_poll(
    store, redis_server, redis_client, keys
):
    job = store.create("old.csv", JobOptions(target="y"), ttl_seconds=60)
    redis_client.hdel(keys.job(job.id), Field.STATUS_JSON.value)
    # and its options as the older code stored them
    redis_client.hset(keys.job(job.id), Field.OPTIONS.value, b'{"target":"y","model_name":"m"}')
    doc, missing = _documents(redis_server, keys, [job.id, "no-such-job"])
    assert doc["trackingId"] == job.id and doc["status"] == "pending" and missing is None
    assert store.get(job.id).options.model_name == "m"
    assert redis_client.hexists(keys.job(job.id), Field.STATUS_JSON.value)


def test_listing_drops_expired_jobs(store, redis_client, keys):
    a = store.create("a.csv", JobOptions(), ttl_seconds=60)
    b = store.create("b.csv", JobOptions(), ttl_seconds=60)
    redis_client.delete(keys.job(a.id))
    assert [j.id for j in store.list()] == [b.id]
    assert redis_client.zscore(keys.jobs_index(), a.id) is None


def test_chunks_are_appended_in_order_and_retries_are_stored_once(staging):
    staging.begin("u1", total_chunks=2)
    assert staging.append("u1", 0, 2, b"abc").outcome == ChunkOutcome.STORED
    assert staging.append("u1", 0, 2, b"abc").outcome == ChunkOutcome.DUPLICATE
    assert staging.append("u1", 0, 2, b"abd").outcome == ChunkOutcome.CONFLICT
    result = staging.append("u1", 1, 2, b"de")
    assert result.outcome == ChunkOutcome.STORED and result.complete
    assert staging.read("u1") == b"abcde"


def test_the_cap_counts_the_whole_upload(staging):
    staging.begin("u2", total_chunks=3)
    staging.append("u2", 0, 3, b"x" * 60)
    result = staging.append("u2", 1, 3, b"x" * 41)
    assert result.outcome == ChunkOutcome.TOO_LARGE
    assert staging.read("u2") == b"x" * 60


def test_of_two_simultaneous_requests_for_one_chunk_exactly_one_is_applied(staging):
    staging.begin("u3", total_chunks=2)
    outcomes: list[ChunkOutcome] = []
    barrier = threading.Barrier(8)

    def send(payload: bytes) -> None:
        barrier.wait()
        outcomes.append(staging.append("u3", 0, 2, payload).outcome)

    threads = [threading.Thread(target=send, args=(bytes([65 + i % 2]) * 10,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count(ChunkOutcome.STORED) == 1
    assert len(staging.read("u3")) == 10


def _queued(store: JobStore) -> str:
    job = store.create("a.csv", JobOptions(), ttl_seconds=60)
    store.mark_queued(job.id, JobOptions())
    return job.id


def test_only_one_worker_can_claim_a_job(store):
    job_id = _queued(store)
    assert store.claim(job_id, "w1", lease_seconds=30, max_attempts=2) == "claimed"
    assert store.claim(job_id, "w2", lease_seconds=30, max_attempts=2) == "leased"
    assert store.heartbeat(job_id, "w1", 30) == "ok"
    assert store.heartbeat(job_id, "w2", 30) == "lost"
    running = store.get(job_id)
    assert running.status == JobStatus.RUNNING and running.attempts == 1


def test_an_upload_still_in_progress_cannot_be_claimed(store):
    job = store.create("a.csv", JobOptions(), ttl_seconds=60)
    assert store.claim(job.id, "w1", lease_seconds=30, max_attempts=2) == "uploading"


def test_a_job_whose_lease_lapsed_is_requeued_once_then_given_up(store, redis_client, keys):
    job_id = _queued(store)
    store.claim(job_id, "w1", lease_seconds=30, max_attempts=2)
    assert not store.requeue_if_stale(job_id), "requeued while its lease was alive"
    redis_client.delete(keys.lease(job_id))  # the worker died: no more heartbeats
    assert store.requeue_if_stale(job_id)
    assert not store.requeue_if_stale(job_id), "requeued twice"
    assert store.get(job_id).status == JobStatus.PENDING
    assert store.heartbeat(job_id, "w1", 30) == "lost"
    assert store.claim(job_id, "w2", lease_seconds=30, max_attempts=2) == "claimed"
    redis_client.delete(keys.lease(job_id))
    assert store.requeue_if_stale(job_id)
    assert store.claim(job_id, "w3", lease_seconds=30, max_attempts=2) == "exhausted"
    failed = store.get(job_id)
    assert failed.status == JobStatus.FAILED and "worker running this job was lost" in failed.error
    assert job_id not in store.running_ids()


def test_finishing_a_job_releases_its_lease(store, redis_client, keys):
    job_id = _queued(store)
    store.claim(job_id, "w1", lease_seconds=30, max_attempts=2)
    store.complete(job_id, {}, "models:/m/1")
    assert redis_client.exists(keys.lease(job_id)) == 0
    assert job_id not in store.running_ids()
    assert store.claim(job_id, "w2", lease_seconds=30, max_attempts=2) == "finished"


def test_a_cancelled_job_tells_its_worker_to_stop(store):
    job_id = _queued(store)
    store.claim(job_id, "w1", lease_seconds=30, max_attempts=2)
    assert store.cancel(job_id)
    assert store.heartbeat(job_id, "w1", 30) == "finished"
    assert not store.progress(job_id, Stage.TRAINING, 60)
    assert not store.cancel(job_id), "a finished job was cancelled again"
    assert "cancelled" in store.get(job_id).error


def test_the_reaper_requeues_jobs_of_lost_workers(store, redis_client, keys):
    from modeltrain.worker.reaper import Reaper

    job_id = _queued(store)
    store.claim(job_id, "w1", lease_seconds=30, max_attempts=2)
    sent: list[str] = []
    reaper = Reaper(store, lambda jid, budget: sent.append(jid))
    assert reaper.reap_once() == []
    redis_client.delete(keys.lease(job_id))
    assert reaper.reap_once() == [job_id] and sent == [job_id]
    assert reaper.reap_once() == []


def test_uploads_in_flight_are_capped(redis_client, keys):
    staging = UploadStaging(redis_client, keys, max_bytes=100, ttl_seconds=60, max_in_flight=2)
    assert staging.begin("a", 1) and staging.begin("b", 1)
    assert not staging.begin("c", 1)
    staging.finished("a")
    assert staging.begin("c", 1)


def test_a_job_queued_by_an_api_that_died_before_sending_it_is_sent_by_a_reaper(store):
    from modeltrain.worker.reaper import Reaper

    stranded = store.create("a.csv", JobOptions(), ttl_seconds=60)
    store.mark_queued(stranded.id, JobOptions())  # ...and the API died here
    sent_ok = store.create("b.csv", JobOptions(), ttl_seconds=60)
    store.mark_queued(sent_ok.id, JobOptions())
    store.mark_dispatched(sent_ok.id)
    sent: list[str] = []
    reaper = Reaper(store, lambda jid, budget: sent.append(jid))
    assert reaper.dispatch_stranded(grace=30) == []  # too early to tell
    assert reaper.dispatch_stranded(grace=0) == [stranded.id]
    assert sent == [stranded.id]
    assert reaper.dispatch_stranded(grace=0) == []  # sent once
