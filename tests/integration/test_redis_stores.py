"""JobStore and UploadStaging against a real Redis server."""

from __future__ import annotations

import threading
import uuid

import pytest

from modeltrain.constants import JobStatus, Keys, Stage
from modeltrain.jobs import JobOptions, JobStore
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
    return UploadStaging(redis_client, keys, max_bytes=100, ttl_seconds=60)


def test_progress_never_goes_down_and_finished_jobs_never_change(store):
    job = store.create("a.csv", JobOptions(), ttl_seconds=60)
    assert store.mark_queued(job.id, JobOptions())
    assert not store.mark_queued(job.id, JobOptions()), "queued twice"
    assert store.start(job.id)
    store.progress(job.id, Stage.TRAINING, 50)
    store.progress(job.id, Stage.TRAINING, 30)
    assert store.get(job.id).progress == 50
    assert store.fail(job.id, "boom")
    assert not store.complete(job.id, {"x": 1}, "models:/m/1")
    final = store.get(job.id)
    assert final.status == JobStatus.FAILED and final.error == "boom" and final.model_id is None


def test_a_completed_job_holds_its_result_and_model_id(store):
    job = store.create("a.csv", JobOptions(target="y"), ttl_seconds=60)
    store.start(job.id)
    store.complete(job.id, {"metrics": {"r2": 0.9}}, "models:/m/3")
    done = store.get(job.id)
    assert done.status == JobStatus.COMPLETED and done.progress == 100
    assert done.result == {"metrics": {"r2": 0.9}} and done.model_id == "models:/m/3"
    assert done.options.target == "y" and done.attempts == 1


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
