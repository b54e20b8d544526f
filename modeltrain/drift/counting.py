"""Served rows counted into their version's profile bins, so that every replica's traffic adds
up in Redis.

The predict route only appends each request's rows to its version's ``DriftCounter`` (a list
append: the hot path pays nothing measurable); the ``DriftFlusher`` thread bins what piled up
once a second and adds it to the version's Redis hash with ``HINCRBY`` in one pipeline. A
version whose rows pile up faster than that (more than ``MAX_PENDING_ROWS`` between flushes)
is sampled: the rows past the cap are not counted (``skipped`` says how many)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import redis

from modeltrain.constants import Keys
from modeltrain.drift.profile import Profile
from modeltrain.runtime.periodic import PeriodicThread

log = logging.getLogger(__name__)

MAX_PENDING_ROWS = 200_000  # rows kept between two flushes per version
FLUSH_SECONDS = 1.0
ROWS_FIELD = "rows"
SINCE_FIELD = "since"


def bin_field(column: int, bin_index: int) -> str:
    """A Redis hash field: the count of one bin of one column (by its place in the profile)."""
    return f"c{column}:{bin_index}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rows(data: Any) -> int:
    rows = getattr(data, "rows", None)  # a ColumnBatch
    return int(rows) if rows is not None else len(data)


class DriftCounter:
    def __init__(self, name: str, version: str, profile: Profile) -> None:
        self.name = name
        self.version = version
        self.profile = profile
        self._pending: list[Mapping[str, Any]] = []
        self._pending_rows = 0
        self.skipped = 0
        self._lock = threading.Lock()

    def record(self, data: Mapping[str, Any]) -> None:
        """Keep a predicted request's input columns for the next flush (the hot path)."""
        rows = _rows(data)
        if self._pending_rows + rows > MAX_PENDING_ROWS:
            self.skipped += rows
            return
        with self._lock:
            self._pending.append(data)
            self._pending_rows += rows

    def take(self) -> tuple[int, dict[str, int]]:
        """What piled up since the last call, binned: (rows, {bin field: count})."""
        with self._lock:
            pending, self._pending, self._pending_rows = self._pending, [], 0
        counts: dict[str, int] = {}
        rows = sum(_rows(data) for data in pending)
        for i, column in enumerate(self.profile.columns):
            # One column of every request at once: binning request by request held the GIL in
            # thousands of small steps a second, and the requests served meanwhile waited.
            parts = [np.asarray(data[column.name]) for data in pending if column.name in data]
            if not parts:
                continue
            values = parts[0] if len(parts) == 1 else np.concatenate(parts)
            found = np.bincount(column.bins(values), minlength=column.size)
            for bin_index in np.flatnonzero(found):
                counts[bin_field(i, int(bin_index))] = int(found[bin_index])
        return rows, counts


class DriftFlusher(PeriodicThread):
    """Adds every counter's rows to Redis once a second (a thread of the API process)."""

    name = "drift-flusher"

    def __init__(self, client: redis.Redis, keys: Keys, retention_seconds: int) -> None:
        super().__init__(FLUSH_SECONDS)
        self._redis = client
        self._keys = keys
        self._retention = retention_seconds
        self._counters: dict[tuple[str, str], DriftCounter] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, version: str, profile: Profile) -> DriftCounter:
        with self._lock:
            key = (name, version)
            if key not in self._counters:
                self._counters[key] = DriftCounter(name, version, profile)
            return self._counters[key]

    def forget(self, name: str, version: str) -> None:
        with self._lock:
            self._counters.pop((name, version), None)

    def flush(self) -> int:
        """Add what every counter holds to Redis; returns the rows added."""
        with self._lock:
            counters = list(self._counters.values())
        added = 0
        pipe = self._redis.pipeline(transaction=False)
        for counter in counters:
            rows, counts = counter.take()
            if rows == 0:
                continue
            key = self._keys.drift(counter.name, counter.version)
            pipe.hsetnx(key, SINCE_FIELD, now_iso())
            pipe.hincrby(key, ROWS_FIELD, rows)
            for field, count in counts.items():
                pipe.hincrby(key, field, count)
            pipe.expire(key, self._retention)
            added += rows
        if added:
            pipe.execute()
        return added

    def tick(self) -> None:
        self.flush()  # Redis away: the rows of this round are not counted

    def stop(self) -> None:
        super().stop()
        try:
            self.flush()  # what was counted before a shutdown still counts
        except Exception:
            log.warning("drift.flush.failed_at_stop")
