"""Server-sent events of a job's status, on the running API."""

from __future__ import annotations

import json

import pytest

from tests.factories import classification_frame
from tests.helpers import upload

pytestmark = pytest.mark.integration


def test_the_events_stream_follows_a_job_to_its_end(stack):
    data = classification_frame(rows=150, seed=31).to_csv(index=False).encode()
    with stack.http() as client:
        tracking_id = upload(client, data, timeBudget=2)[0].json()["trackingId"]
        events = []
        with client.stream("GET", f"/api/model-train/events/{tracking_id}") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        missing = client.get("/api/model-train/events/nope")
    assert events[-1]["status"] == "completed" and events[-1]["progress"] == 100
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and len(events) >= 2
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
