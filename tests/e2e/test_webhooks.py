"""Webhooks on real processes: a job's `callbackUrl` is called by the worker, signed, retried,
and each try recorded; hosts that are not allowed are never called."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterator
from hashlib import sha256

import pytest

from modeltrain.runtime.processes import free_port
from tests.conftest import WEBHOOK_SECRET
from tests.factories import classification_frame
from tests.helpers import upload, wait_for_job
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(free_port())
    yield server
    server.close()


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}/hooks/modeltrain?source=test"


def _calls_of(client, tracking_id: str, count: int, timeout: float = 60) -> list[dict]:
    """The job's recorded callback tries, once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        calls = client.get(f"/api/model-train/status/{tracking_id}").json()["callbacks"] or []
        if len(calls) >= count:
            return calls
        assert time.monotonic() < deadline, f"{len(calls)} callback tries, not {count}"
        time.sleep(0.1)


def _failing_upload(client, callback_url: str) -> str:
    """A job that fails at once (its target is not a column): a quick job that ends."""
    csv = classification_frame(rows=50).to_csv(index=False).encode()
    answers = upload(client, csv, target="nope", callbackUrl=callback_url)
    assert answers[0].status_code == 422, answers[0].text
    return answers[0].json()["trackingId"]


def test_a_finished_job_posts_its_signed_status_document(stack, receiver):
    port = receiver.server.server_address[1]
    csv = classification_frame(rows=150, seed=71).to_csv(index=False).encode()
    with stack.http() as client:
        answers = upload(client, csv, timeBudget=1, callbackUrl=_url(port))
        job = wait_for_job(client, answers[0].json()["trackingId"])
        assert job["status"] == "completed", job["error"]
        calls = _calls_of(client, job["trackingId"], 1)
    assert calls[0]["ok"] is True and calls[0]["status"] == 200 and calls[0]["attempt"] == 1
    assert len(receiver.calls) == 1
    headers, body = receiver.calls[0]
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Modeltrain-Signature"], expected)
    sent = json.loads(body)
    assert sent["trackingId"] == job["trackingId"] and sent["status"] == "completed"
    assert sent["modelId"] == job["modelId"] and "callbackUrl" not in sent


def test_a_receiver_that_is_down_then_up_gets_the_call_on_a_later_try(stack):
    port = free_port()  # nothing listens there yet
    with stack.http() as client:
        tracking_id = _failing_upload(client, _url(port))
        first = _calls_of(client, tracking_id, 1)[0]
        assert first["ok"] is False and "ConnectError" in first["error"]
        late = Receiver(port)
        try:
            calls = _calls_of(client, tracking_id, 2)
        finally:
            late.close()
    assert calls[1]["ok"] is True and calls[1]["attempt"] == 2
    assert json.loads(late.calls[0][1])["status"] == "failed"


def test_a_receiver_that_always_fails_leaves_the_tries_recorded_and_the_job_as_it_was(stack):
    failing = Receiver(free_port(), status=500)
    try:
        with stack.http() as client:
            tracking_id = _failing_upload(client, _url(failing.server.server_address[1]))
            calls = _calls_of(client, tracking_id, 3)  # MODELTRAIN_WEBHOOK_ATTEMPTS in the stack
            job = client.get(f"/api/model-train/status/{tracking_id}").json()
    finally:
        failing.close()
    assert [c["status"] for c in calls] == [500, 500, 500]
    assert [c["attempt"] for c in calls] == [1, 2, 3] and not any(c["ok"] for c in calls)
    assert job["status"] == "failed" and "nope" in job["error"]
    assert len(failing.calls) == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "http://localhost:9/hook",  # another name for an allowed address is another host
        "ftp://127.0.0.1/hook",
        "not a url",
        "http://127.0.0.1:99999/hook",
    ],
)
def test_a_callback_to_a_host_that_is_not_allowed_is_refused_and_never_called(stack, receiver, url):
    csv = classification_frame(rows=50).to_csv(index=False).encode()
    with stack.http() as client:
        before = len(client.get("/api/model-train/status", params={"limit": 1000}).json())
        answers = upload(client, csv, callbackUrl=url)
        after = len(client.get("/api/model-train/status", params={"limit": 1000}).json())
    assert answers[0].status_code == 422, answers[0].text
    assert answers[0].json()["field"] == "callbackUrl"
    assert after == before and receiver.calls == []
