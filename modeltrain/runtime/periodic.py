"""PeriodicThread: the background loops of the service's processes (the worker's reaper and
webhook sender, the API's drift flusher) — a daemon thread calling ``tick()`` every
``interval`` seconds until ``stop()``; a round that fails (Redis or MLflow away for a while) is
logged and the next round tries again."""

from __future__ import annotations

import logging
import threading

from modeltrain.logging import fields

log = logging.getLogger(__name__)


class PeriodicThread:
    name = "periodic"  # the thread's name, and the log event's prefix

    def __init__(self, interval: float) -> None:
        self._interval = interval  # seconds between rounds
        self._stop = threading.Event()

    def tick(self) -> None:
        raise NotImplementedError

    def run_forever(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception as exc:
                log.warning(f"{self.name}.round.failed", extra=fields(error=str(exc)[:300]))

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name=self.name, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
