"""The soak of bench/service.py: uploads and status polls against `modeltrain up` (started as a
user starts it) while its worker is SIGKILLed twice and its API once.

Each of ``uploaders`` clients uploads small CSVs one after another for ``seconds``, its chunks
spaced out so that uploads are always in flight; a chunk that meets a refused connection or a
5xx is sent again, as the web page does. Pollers ask for the status of known jobs at
``poll_rate`` a second. Afterwards every accepted upload must reach `completed` or `failed`.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp  # httpx's async pool managed ~75 requests/s at 50 connections here; aiohttp ~1,000

from bench._stack import chunk_form
from tests.faults.up import Up

TERMINAL = ("completed", "failed")
CHUNKS_PER_UPLOAD = 8


@dataclass
class Outage:
    """What the clients saw of one kill: errors from the kill until the first answer after it."""

    what: str
    at: float  # seconds into the soak
    errors: int = 0
    seconds: float | None = None  # kill → first 2xx of a request sent after the kill


@dataclass
class SoakResult:
    seconds: float
    uploaders: int
    poll_rate: int
    uploads_started: int = 0
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # an upload the service gave up on (4xx)
    client_errors: int = 0
    polls: int = 0
    polls_refused: int = 0  # a 4xx for a job the client was told exists: a lost job
    outages: list[Outage] = field(default_factory=list)
    worker_back: list[float] = field(default_factory=list)  # kill → `up` says running again
    final: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # error text → jobs
    drain_seconds: float = 0.0

    @property
    def lost(self) -> int:
        return len(self.accepted) - len(self.final) + len(self.refused)

    @property
    def left_running(self) -> int:
        return len(self.accepted) - len(self.final)


class _Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.start


def _csv(seed: int, rows: int = 400) -> bytes:
    rng = random.Random(seed)
    lines = ["x1,x2,x3,label"]
    for _ in range(rows):
        x1, x2, x3 = (round(rng.gauss(0, 1), 4) for _ in range(3))
        lines.append(f"{x1},{x2},{x3},{'yes' if x1 + 0.5 * x2 > 0 else 'no'}")
    return ("\n".join(lines) + "\n").encode()


class Soak:
    def __init__(self, up: Up, seconds: float, uploaders: int, poll_rate: int) -> None:
        self.up = up
        self.result = SoakResult(seconds, uploaders, poll_rate)
        self.clock = _Clock()
        self.ending = asyncio.Event()

    # --- the clients --------------------------------------------------------------------
    def _failed_request(self) -> None:
        self.result.client_errors += 1
        for outage in self.result.outages:
            if outage.seconds is None and outage.what == "api":
                outage.errors += 1

    def _answered(self, sent_at: float) -> None:
        for outage in self.result.outages:
            if outage.seconds is None and sent_at >= outage.at:
                outage.seconds = self.clock.now() - outage.at

    async def _send_chunk(
        self, client: aiohttp.ClientSession, form: dict[str, str], part: bytes
    ) -> dict | None:
        """POST one chunk until the service answers it; None when it refuses the upload."""
        while True:
            body = aiohttp.FormData(form)
            body.add_field("chunk", part, filename="c")
            sent_at = self.clock.now()
            try:
                async with client.post("/api/model-train/start", data=body) as answer:
                    status = answer.status
                    document = await answer.json() if status < 400 else None
            except aiohttp.ClientError:
                status = 0
            if status == 0 or status >= 500 or status == 429:
                self._failed_request()
                await asyncio.sleep(0.2)
                continue
            self._answered(sent_at)
            return document

    async def _uploader(self, client: aiohttp.ClientSession, n: int) -> None:
        rng = random.Random(n)
        await asyncio.sleep(rng.uniform(0, 3))  # not all at once
        round_ = 0
        while not self.ending.is_set():
            data = _csv(n * 1000 + round_)
            size = len(data) // CHUNKS_PER_UPLOAD + 1
            parts = [data[i : i + size] for i in range(0, len(data), size)]
            self.result.uploads_started += 1
            tracking_id = None
            for index, part in enumerate(parts):
                form = chunk_form(
                    f"soak-{n}-{round_}.csv", index, len(parts), tracking_id, timeBudget="1"
                )
                answer = await self._send_chunk(client, form, part)
                if answer is None:
                    self.result.refused.append(tracking_id or f"soak-{n}-{round_}")
                    break
                tracking_id = answer["trackingId"]
                if index < len(parts) - 1:
                    await asyncio.sleep(rng.uniform(2, 6))  # uploads stay in flight a while
            else:
                self.result.accepted.append(tracking_id)
            round_ += 1

    async def _poller(self, client: aiohttp.ClientSession, lanes: int, lane: int) -> None:
        """One of ``lanes`` pollers; together they send ``poll_rate`` requests a second."""
        rate = self.result.poll_rate
        k = lane
        while not self.ending.is_set():
            due = k / rate
            delay = due - self.clock.now()
            if delay > 0:
                await asyncio.sleep(delay)
            k += lanes
            ids = self.result.accepted
            path = (
                f"/api/model-train/status/{random.choice(ids)}"
                if ids and k % 50
                else "/api/model-train/status?limit=20"
            )
            sent_at = self.clock.now()
            try:
                async with client.get(path) as answer:
                    status = answer.status
                    await answer.read()
            except aiohttp.ClientError:
                status = 0
            if status == 0 or status >= 500:
                self._failed_request()
                await asyncio.sleep(0.1)  # as a polling page would, not a busy loop
                continue
            self._answered(sent_at)
            self.result.polls += 1
            if status >= 400:
                self.result.polls_refused += 1

    # --- the faults ---------------------------------------------------------------------
    async def _kill(self, role: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self.clock.now()))
        restarts = self.up.child(role).get("restarts", 0)
        self.up.kill(role)
        killed_at = self.clock.now()
        if role == "api":
            self.result.outages.append(Outage("api", killed_at))
        while True:  # until `up` has it running again
            child = self.up.child(role)
            if child.get("restarts", 0) > restarts and child.get("state") == "running":
                break
            await asyncio.sleep(0.1)
        if role == "worker":
            self.result.worker_back.append(self.clock.now() - killed_at)

    async def run(self, drain_timeout: float = 1200) -> SoakResult:
        seconds = self.result.seconds
        async with aiohttp.ClientSession(
            self.up.api_url,
            connector=aiohttp.TCPConnector(limit=200),
            timeout=aiohttp.ClientTimeout(total=60),
        ) as client:
            lanes = 50
            clients = [
                *(self._uploader(client, n) for n in range(self.result.uploaders)),
                *(self._poller(client, lanes, lane) for lane in range(lanes)),
            ]
            tasks = [asyncio.create_task(c) for c in clients]
            faults = [
                asyncio.create_task(self._kill(role, at * seconds))
                for role, at in (("worker", 0.25), ("api", 0.5), ("worker", 0.75))
            ]
            await asyncio.sleep(seconds)
            self.ending.set()  # uploads in flight finish; no new ones start
            await asyncio.gather(*tasks, *faults)
            drain_started = time.monotonic()
            await self._drain(client, drain_started + drain_timeout)
            self.result.drain_seconds = time.monotonic() - drain_started
        return self.result

    async def _drain(self, client: aiohttp.ClientSession, deadline: float) -> None:
        """Wait until every accepted upload's job has finished (or the deadline passes)."""
        result = self.result
        while time.monotonic() < deadline and len(result.final) < len(result.accepted):
            for tracking_id in result.accepted:
                if tracking_id in result.final:
                    continue
                async with client.get(f"/api/model-train/status/{tracking_id}") as answer:
                    body = await answer.json()
                if body["status"] in TERMINAL:
                    result.final[tracking_id] = body["status"]
                    if body["status"] == "failed":
                        reason = str(body.get("error"))[:120]
                        result.failures[reason] = result.failures.get(reason, 0) + 1
            await asyncio.sleep(1)


def run_soak(
    run_dir: Path, seconds: float = 60, uploaders: int = 50, poll_rate: int = 1000
) -> SoakResult:
    up = Up(
        run_dir / "data",
        run_dir / "up.log",
        MODELTRAIN_LOG_LEVEL="WARNING",
        MODELTRAIN_REDIS_PREFIX="mt-soak",
    ).start()
    try:
        return asyncio.run(Soak(up, seconds, uploaders, poll_rate).run())
    finally:
        up.stop()
