"""Heartbeat: keeps a running job's lease alive from a background thread, and tells the job to
stop when it was cancelled or taken over."""

from __future__ import annotations

import logging
import threading

from modeltrain.constants import HEARTBEATS_PER_LEASE, HeartbeatVerdict
from modeltrain.jobs import JobStore
from modeltrain.logging import fields

log = logging.getLogger(__name__)


class JobStopped(Exception):
    """The job ended elsewhere (cancelled, or taken over by another worker): stop working."""


class Heartbeat:
    def __init__(self, store: JobStore, job_id: str, owner: str, lease_seconds: int) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self._interval = max(0.5, lease_seconds / HEARTBEATS_PER_LEASE)
        self._job_id = job_id
        self._owner = owner
        self.stopped = threading.Event()  # set when the job must stop
        self.finish = threading.Event()  # set when the search should end now, keeping the best
        self.reason = ""
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def check(self) -> None:
        """Raise JobStopped at a checkpoint when the job must not go on."""
        if self.stopped.is_set():
            raise JobStopped(self.reason)

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            try:
                state = self._store.heartbeat(self._job_id, self._owner, self._lease_seconds)
            except Exception as exc:  # Redis away for a moment: the lease has slack
                log.warning("job.heartbeat.failed", extra=fields(error=str(exc)))
                continue
            if state == HeartbeatVerdict.END_SEARCH:
                self.finish.set()
                continue
            if state.stops:
                self.reason = (
                    "the job was cancelled"
                    if state == HeartbeatVerdict.JOB_ENDED
                    else "the job was taken over"
                )
                self.stopped.set()
                return
