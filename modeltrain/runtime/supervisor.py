"""Supervisor: what `modeltrain up` runs after it has started its children.

A child (Redis, MLflow, the worker, the API) that exits without being asked to is logged with its
exit code and the tail of its log, and started again; the others keep running. A child that keeps
dying soon after its start waits longer before each new start (1 s, 2 s, 4 s … one minute). Only
:meth:`Supervisor.request_stop` (Ctrl-C or SIGTERM to `up`) stops them all.

What the supervisor knows is written to a small JSON state file after every change, so that the
API's ``/readyz`` can say which child is down or restarting.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from modeltrain.logging import fields
from modeltrain.runtime.processes import ManagedProcess

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 1.0  # wait before restarting a child that died
MAX_BACKOFF_SECONDS = 60.0  # the longest wait between restarts of a child that keeps dying
STABLE_AFTER_SECONDS = 30.0  # a child that ran this long before dying starts a new back-off
READY_CHECK_SECONDS = 0.5  # how often a starting child's readiness is checked
POLL_SECONDS = 0.2  # how often the supervisor looks at its children
LOG_TAIL_LINES = 20  # lines of a dead child's log shown when it exits


class ChildState(StrEnum):
    STARTING = "starting"  # started, not ready yet
    RUNNING = "running"  # ready
    RESTARTING = "restarting"  # exited; waits for its back-off before the next start
    STOPPED = "stopped"  # stopped on request


@dataclass
class Child:
    """One supervised process and what happened to it."""

    role: str  # "redis", "mlflow", "worker", "api"
    process: ManagedProcess
    state: ChildState = ChildState.STOPPED
    restarts: int = 0
    last_exit: int | None = None
    started_at: float = 0.0
    backoff: float = 0.0  # seconds waited before the latest restart; 0 = none yet
    restart_at: float | None = None
    checked_at: float = 0.0

    def describe(self) -> str:
        """How the child is, in words: ``restarting (3rd time, last exit -9)``."""
        if self.restarts == 0 or self.state == ChildState.RUNNING:
            return self.state.value
        return f"{self.state.value} ({ordinal(self.restarts)} time, last exit {self.last_exit})"

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "description": self.describe(),
            "pid": self.process.pid if self.process.alive() else None,
            "restarts": self.restarts,
            "lastExit": self.last_exit,
            "backoff": self.backoff,  # seconds waited before the latest restart
            "nextStartIn": (
                round(max(0.0, self.restart_at - now), 1)
                if self.state == ChildState.RESTARTING and self.restart_at is not None
                else None
            ),
            "log": str(self.process.log_path) if self.process.log_path else None,
        }


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def next_backoff(previous: float, ran_for: float) -> float:
    """Seconds to wait before starting again a child that ran ``ran_for`` seconds."""
    if previous <= 0 or ran_for >= STABLE_AFTER_SECONDS:
        return FIRST_BACKOFF_SECONDS
    return min(previous * 2, MAX_BACKOFF_SECONDS)


class Supervisor:
    def __init__(
        self,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        stop_grace_seconds: float = 10.0,
    ) -> None:
        self.children: list[Child] = []
        self._state_file = state_file
        self._clock = clock
        self._grace = stop_grace_seconds
        self._stop = threading.Event()

    # --- start and stop ----------------------------------------------------------------------
    def request_stop(self) -> None:
        """Safe from a signal handler: the loop (or a start in progress) ends soon after."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self, role: str, process: ManagedProcess, ready_timeout: float) -> Child:
        """Start a child and wait (at most ``ready_timeout`` s) until it is ready. One that dies
        meanwhile is left to the restart loop; `up` goes on with the others."""
        child = Child(role, process)
        self.children.append(child)
        self._launch(child)
        deadline = self._clock() + ready_timeout
        while not self.stopping and self._clock() < deadline:
            self.tend()
            if child.state != ChildState.STARTING:
                break
            self._stop.wait(POLL_SECONDS)
        if child.state == ChildState.STARTING:
            log.warning(
                "up.child.slow_start",
                extra=fields(name=role, seconds=ready_timeout, log=str(process.log_path)),
            )
        return child

    def run(self) -> None:
        """Look after the children until a stop is requested."""
        while not self.stopping:
            self.tend()
            self._stop.wait(POLL_SECONDS)

    def stop_all(self) -> None:
        """Stop every child, the last started first, each with its whole process group."""
        for child in reversed(self.children):
            if child.process.proc is not None:
                child.process.stop(timeout=self._grace)
            child.state = ChildState.STOPPED
        self._write_state()

    # --- the loop's one step -----------------------------------------------------------------
    def tend(self) -> None:
        now = self._clock()
        changed = False
        for child in self.children:
            changed |= self._tend(child, now)
        if changed:
            self._write_state()

    def _tend(self, child: Child, now: float) -> bool:
        if child.state in (ChildState.STARTING, ChildState.RUNNING):
            if not child.process.alive():
                self._exited(child, now)
                return True
            if child.state == ChildState.STARTING and now - child.checked_at >= READY_CHECK_SECONDS:
                child.checked_at = now
                if child.process.ready is None or child.process.ready():
                    child.state = ChildState.RUNNING
                    log.info(
                        "up.child.ready", extra=fields(name=child.role, restarts=child.restarts)
                    )
                    return True
        elif (
            child.state == ChildState.RESTARTING
            and child.restart_at is not None
            and now >= child.restart_at
            and not self.stopping
        ):
            self._launch(child)
            return True
        return False

    def _launch(self, child: Child) -> None:
        child.process.start()
        child.state = ChildState.STARTING
        child.started_at = child.checked_at = self._clock()
        child.restart_at = None
        self._write_state()

    def _exited(self, child: Child, now: float) -> None:
        code = child.process.proc.returncode if child.process.proc else None
        child.process.stop(timeout=1.0)  # what is left of its group (e.g. pool processes)
        ran_for = now - child.started_at
        child.backoff = next_backoff(child.backoff, ran_for)
        child.restarts += 1
        child.last_exit = code
        child.state = ChildState.RESTARTING
        child.restart_at = now + child.backoff
        log_path = child.process.log_path
        log.error(
            "up.child.exited",
            extra=fields(
                name=child.role,
                code=code,
                ran_seconds=round(ran_for, 1),
                restart_in=child.backoff,
                restarts=child.restarts,
                log=str(log_path) if log_path else None,
            ),
        )
        tail = child.process.log_tail(LOG_TAIL_LINES)
        if tail:
            print(f"--- last lines of {log_path} ---\n{tail}\n---", file=sys.stderr, flush=True)
        if child.backoff > FIRST_BACKOFF_SECONDS:
            print(
                f"modeltrain up: the {child.role} keeps exiting soon after it starts "
                f"(exit {code}, {ordinal(child.restarts)} time); next start in "
                f"{child.backoff:.0f} s. Its log: {log_path}",
                file=sys.stderr,
                flush=True,
            )

    # --- the state file ----------------------------------------------------------------------
    def _write_state(self) -> None:
        if self._state_file is None:
            return
        now = self._clock()
        body = {
            "pid": os.getpid(),
            "updatedAt": time.time(),
            "children": {child.role: child.to_json(now) for child in self.children},
        }
        tmp = self._state_file.with_suffix(".tmp")
        try:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
            os.replace(tmp, self._state_file)
        except OSError as exc:  # a full disk must not stop the supervision
            log.warning("up.state.write_failed", extra=fields(error=str(exc)))


def read_state(path: Path) -> dict[str, Any] | None:
    """The state `up` last wrote, or None when there is none or `up` is no longer running."""
    try:
        body = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    pid = body.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, someone else's
        pass
    return body if isinstance(body.get("children"), dict) else None
