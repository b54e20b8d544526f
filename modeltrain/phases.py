"""Seconds each step of a piece of work took, in the order they ran: a training job's steps
(read, train, log, verify, promote, announce, logged as `job.phases`) and, within `train`,
the search's and what follows it, so that a job's time beyond its budget can be traced to
the step that took it."""

from __future__ import annotations

import time


class Phases:
    def __init__(self) -> None:
        self._last = time.monotonic()
        self.seconds: dict[str, float] = {}

    def mark(self, name: str) -> None:
        """The step ``name`` ended now: it took the time since the previous mark."""
        now = time.monotonic()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now
