"""Service benchmark: upload throughput, queue-to-running latency, status polls, and 50
concurrent uploads, each next to the bare framework's limit where the issue asks for one; what
`appendfsync always` costs the Redis that `modeltrain up` starts; and a soak against `modeltrain
up` while its worker and API are SIGKILLed (bench/soak.py).

    .venv/bin/python -m bench.service [--quick]

Starts its own Redis, MLflow server, one Celery worker and the API (and the bare Starlette app
of bench/bare_app.py), then `modeltrain up` (twice side by side for the fsync measure, once for
the soak), and writes bench/results/service.md. Status polls use `wrk` when it is installed
(Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import redis

from bench._stack import BenchStack, chunk_form
from bench.soak import CHUNKS_PER_UPLOAD, SoakResult, run_soak
from tests.faults.up import Up

RESULTS = Path(__file__).parent / "results" / "service.md"
MIB = 1024 * 1024


def synthetic_csv(size: int, seed: int = 0) -> bytes:
    """A numeric CSV of about ``size`` bytes (just under it)."""
    rng = np.random.default_rng(seed)
    rows = 1000
    block = pd.DataFrame(rng.normal(size=(rows, 8)).round(5), columns=[f"x{i}" for i in range(8)])
    block["y"] = rng.integers(0, 2, size=rows)
    one = block.to_csv(index=False, header=False).encode()
    header = (",".join(block.columns) + "\n").encode()
    out = io.BytesIO()
    out.write(header)
    while out.tell() + len(one) < size:
        out.write(one)
    for line in one.splitlines(keepends=True):  # top up with whole lines
        if out.tell() + len(line) >= size:
            break
        out.write(line)
    return out.getvalue()


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- 1. upload throughput ------------------------------------------------------------------
def upload_ours(client: httpx.Client, data: bytes, chunk: int, **first: str) -> tuple[str, float]:
    parts = _chunks(data, chunk)
    tracking_id = None
    started = time.perf_counter()
    for i, part in enumerate(parts):
        form = {"filename": "bench.csv", "chunkIndex": str(i), "totalChunks": str(len(parts))}
        if tracking_id:
            form["trackingId"] = tracking_id
        else:  # the same file each time, each meant to train
            form.update({"force": "true", **(first or {})})
        r = client.post("/api/model-train/start", data=form, files={"chunk": ("c", part)})
        r.raise_for_status()
        tracking_id = r.json()["trackingId"]
    return tracking_id, time.perf_counter() - started


def upload_bare(client: httpx.Client, data: bytes, chunk: int, upload_id: str) -> float:
    parts = _chunks(data, chunk)
    started = time.perf_counter()
    for i, part in enumerate(parts):
        form = {"uploadId": upload_id, "chunkIndex": str(i)}
        client.post("/upload", data=form, files={"chunk": ("c", part)}).raise_for_status()
    return time.perf_counter() - started


def bench_upload(stack: BenchStack, bare_url: str, rounds: int) -> dict:
    data = synthetic_csv(25_000_000)
    ours, bare = [], []
    with (
        httpx.Client(base_url=stack.api_url, timeout=120) as api,
        httpx.Client(base_url=bare_url, timeout=120) as plain,
    ):
        for r in range(rounds):  # alternate, so that both see the same machine
            tracking_id, seconds = upload_ours(api, data, MIB)
            api.post(f"/api/model-train/{tracking_id}/cancel")  # keep the worker idle
            ours.append(len(data) / MIB / seconds)
            bare.append(len(data) / MIB / upload_bare(plain, data, MIB, f"u{r}"))
    return {
        "bytes": len(data),
        "ours": max(ours),
        "bare": max(bare),
        "ours_all": ours,
        "bare_all": bare,
    }


# --- 2. last chunk answered -> running ----------------------------------------------------
def bench_start_latency(stack: BenchStack, samples: int) -> dict:
    data = synthetic_csv(20_000, seed=1)
    store = redis.Redis.from_url(stack.redis_url)
    latencies = []
    with httpx.Client(base_url=stack.api_url, timeout=60) as api:
        for _ in range(samples):
            tracking_id, _ = upload_ours(api, data, MIB, timeBudget="1")
            answered = time.perf_counter()
            key = f"mt:job:{tracking_id}"
            while store.hget(key, "status") == b"pending":
                time.sleep(0.0002)
            latencies.append((time.perf_counter() - answered) * 1000)
            while store.hget(key, "status") not in (b"completed", b"failed"):
                time.sleep(0.02)
    return {
        "p50": statistics.median(latencies),
        "p90": float(np.percentile(latencies, 90)),
        "max": max(latencies),
        "samples": samples,
    }


# --- 3. status polls per second ------------------------------------------------------------
def _wrk(url: str, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} error responses")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


async def _poll_python(url: str, seconds: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=30) as client:

        async def loop() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                (await client.get(url)).raise_for_status()
                done += 1

        await asyncio.gather(*(loop() for _ in range(16)))
    return done / seconds


def bench_polls(stack: BenchStack, bare_url: str, seconds: int, rounds: int) -> dict:
    with httpx.Client(base_url=stack.api_url, timeout=60) as api:
        tracking_id, _ = upload_ours(api, synthetic_csv(20_000, seed=2), MIB, timeBudget="1")
        while api.get(f"/api/model-train/status/{tracking_id}").json()["status"] == "pending":
            time.sleep(0.1)
        while api.get(f"/api/model-train/status/{tracking_id}").json()["status"] == "running":
            time.sleep(0.1)
        body = api.get(f"/api/model-train/status/{tracking_id}").content
    redis.Redis.from_url(stack.redis_url).set("bare:status:job", body)  # the same document
    ours_url = f"{stack.api_url}/api/model-train/status/{tracking_id}"
    bare = f"{bare_url}/status/job"
    tool = "wrk" if shutil.which("wrk") else "python"
    measure = _wrk if tool == "wrk" else (lambda u, s: asyncio.run(_poll_python(u, s)))
    ours, plain = [], []
    for _ in range(rounds):
        ours.append(measure(ours_url, seconds))
        plain.append(measure(bare, seconds))
    return {"ours": max(ours), "bare": max(plain), "tool": tool, "body_bytes": len(body)}


# --- 4. 50 concurrent uploads with polling beside them -------------------------------------
async def _concurrent(stack: BenchStack, uploads: int) -> dict:
    data = synthetic_csv(60_000, seed=3)
    parts = _chunks(data, len(data) // 3 + 1)
    errors: list[str] = []
    ids: list[str] = []
    stop = asyncio.Event()
    polls = 0

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=120) as client:

        async def one(n: int) -> None:
            tracking_id = None
            for i, part in enumerate(parts):
                form = chunk_form(f"c{n}.csv", i, len(parts), tracking_id, timeBudget="1")
                r = await client.post(
                    "/api/model-train/start", data=form, files={"chunk": ("c", part)}
                )
                if r.status_code not in (200, 202):
                    errors.append(f"upload {n} chunk {i}: {r.status_code} {r.text[:200]}")
                    return
                tracking_id = r.json()["trackingId"]
            ids.append(tracking_id)

        async def poller() -> None:
            nonlocal polls
            while not stop.is_set():
                r = await client.get("/api/model-train/status", params={"limit": 100})
                if r.status_code != 200:
                    errors.append(f"poll: {r.status_code}")
                for job in r.json()[:5]:
                    s = await client.get(f"/api/model-train/status/{job['trackingId']}")
                    if s.status_code != 200:
                        errors.append(f"status: {s.status_code}")
                    polls += 1
                polls += 1
                await asyncio.sleep(0.01)

        started = time.perf_counter()
        pollers = [asyncio.create_task(poller()) for _ in range(4)]
        await asyncio.gather(*(one(n) for n in range(uploads)))
        upload_seconds = time.perf_counter() - started
        deadline = time.perf_counter() + 600
        final: dict[str, str] = {}
        while time.perf_counter() < deadline:
            for tracking_id in ids:
                if tracking_id not in final:
                    body = (await client.get(f"/api/model-train/status/{tracking_id}")).json()
                    if body["status"] in ("completed", "failed"):
                        final[tracking_id] = body["status"]
            if len(final) == len(ids):
                break
            await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*pollers)
    return {
        "uploads": uploads,
        "accepted": len(ids),
        "errors": errors,
        "completed": sum(1 for s in final.values() if s == "completed"),
        "failed": sum(1 for s in final.values() if s == "failed"),
        "lost": len(ids) - len(final),
        "upload_seconds": upload_seconds,
        "all_done_seconds": time.perf_counter() - started,
        "polls": polls,
    }


# --- 5. appendfsync always vs everysec, on `modeltrain up` --------------------------------
async def _chunk_latencies(api_url: str, uploads: int, size: int, chunk: int) -> tuple:
    """``uploads`` concurrent uploads of ``size`` bytes in ``chunk``-byte chunks: every chunk's
    latency (ms) and the bytes per second of them all."""
    data = synthetic_csv(size, seed=5)
    parts = _chunks(data, chunk)
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:

        async def one(n: int) -> None:
            tracking_id = None
            for i, part in enumerate(parts):
                form = chunk_form(f"f{n}.csv", i, len(parts), tracking_id)
                sent = time.perf_counter()
                r = await client.post(
                    "/api/model-train/start", data=form, files={"chunk": ("c", part)}
                )
                latencies.append((time.perf_counter() - sent) * 1000)
                r.raise_for_status()
                tracking_id = r.json()["trackingId"]
            await client.post(f"/api/model-train/{tracking_id}/cancel")  # keep the worker idle

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(uploads)))
        seconds = time.perf_counter() - started
    return latencies, uploads * len(data) / MIB / seconds


def bench_fsync(run_dir: Path, rounds: int) -> dict:
    """The same uploads against two `modeltrain up`s that differ only in appendfsync, taken in
    turns so that both see the same machine."""
    modes = ("everysec", "always")
    ups = {
        mode: Up(
            run_dir / mode,
            run_dir / f"up-{mode}.log",
            MODELTRAIN_REDIS_APPENDFSYNC=mode,
            MODELTRAIN_LOG_LEVEL="WARNING",
        )  # fmt: skip
        for mode in modes
    }
    out: dict = {mode: {"seq": [], "conc": [], "lat": []} for mode in modes}
    try:
        for up in ups.values():
            up.start()
        data = synthetic_csv(25_000_000)
        for _ in range(rounds):
            for mode, up in ups.items():
                with up.http() as api:
                    tracking_id, seconds = upload_ours(api, data, MIB)
                    api.post(f"/api/model-train/{tracking_id}/cancel")
                out[mode]["seq"].append(len(data) / MIB / seconds)
                latencies, rate = asyncio.run(
                    _chunk_latencies(up.api_url, 16, 1_000_000, 64 * 1024)
                )
                out[mode]["conc"].append(rate)
                out[mode]["lat"].extend(latencies)
    finally:
        for up in ups.values():
            if up.proc is not None and up.proc.poll() is None:
                up.stop()
    return {
        mode: {
            "seq": max(v["seq"]),
            "conc": max(v["conc"]),
            "p50": statistics.median(v["lat"]),
            "p99": float(np.percentile(v["lat"], 99)),
        }
        for mode, v in out.items()
    }


# --- report --------------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def fsync_lines(fsync: dict) -> list[str]:
    every, always = fsync["everysec"], fsync["always"]
    return [
        "",
        "## `appendfsync` of the Redis that `modeltrain up` starts",
        "",
        "Two `modeltrain up`s side by side, differing only in `MODELTRAIN_REDIS_APPENDFSYNC`, "
        "given the same uploads in turns.",
        "",
        "| measure | everysec | always | always / everysec |",
        "| --- | --- | --- | --- |",
        f"| one 25 MB upload in 1 MiB chunks (MiB/s, best round) | {every['seq']:.0f} | "
        f"{always['seq']:.0f} | {always['seq'] / every['seq']:.0%} |",
        f"| 16 concurrent 1 MB uploads in 64 KiB chunks (MiB/s, best round) | "
        f"{every['conc']:.1f} | {always['conc']:.1f} | {always['conc'] / every['conc']:.0%} |",
        f"| latency of one 64 KiB chunk among them (ms, p50 / p99) | "
        f"{every['p50']:.1f} / {every['p99']:.1f} | {always['p50']:.1f} / {always['p99']:.1f} | "
        f"{always['p50'] / every['p50']:.0%} / {always['p99'] / every['p99']:.0%} |",
    ]


def soak_lines(soak: SoakResult) -> list[str]:
    outages = "; ".join(
        f"API killed at {o.at:.0f} s: {o.errors} failed requests, answering again after "
        + (f"{o.seconds:.1f} s" if o.seconds is not None else "never")
        for o in soak.outages
    )
    ok = soak.lost == 0 and soak.left_running == 0 and soak.polls_refused == 0
    failures = "; ".join(f"{n} × {reason}" for reason, n in soak.failures.items()) or "none"
    return [
        "",
        "## Soak: `modeltrain up` while its processes are SIGKILLed",
        "",
        f"For {soak.seconds:.0f} s, {soak.uploaders} clients uploading small CSVs "
        f"({CHUNKS_PER_UPLOAD} chunks each, 2–6 s apart, a chunk sent again after a refused connection or a "
        f"5xx) and pollers asking for job statuses at {soak.poll_rate}/s; the worker (main and "
        "pool processes) SIGKILLed at 25 % and 75 % of the time, the API at 50 %. Then every "
        "accepted upload waited for. One `modeltrain up` with its default settings (lease 30 s, "
        "one worker).",
        "",
        "| measure | result | goal | |",
        "| --- | --- | --- | --- |",
        f"| uploads accepted / started | {len(soak.accepted)} / {soak.uploads_started} | — | |",
        f"| lost uploads (accepted, never finished; or refused mid-way) | {soak.lost} | 0 | "
        f"{_verdict(soak.lost == 0)} |",
        f"| jobs left `pending`/`running` after {soak.drain_seconds:.0f} s of draining | "
        f"{soak.left_running} | 0 | {_verdict(soak.left_running == 0)} |",
        f"| jobs completed / failed | {sum(s == 'completed' for s in soak.final.values())} / "
        f"{sum(s == 'failed' for s in soak.final.values())} | — | |",
        f"| status polls answered (per second over the soak) | {soak.polls} "
        f"({soak.polls / soak.seconds:.0f}/s) | {soak.poll_rate}/s | |",
        f"| polls answered 4xx for a known job | {soak.polls_refused} | 0 | "
        f"{_verdict(soak.polls_refused == 0)} |",
        f"| client errors (refused connections, 5xx) | {soak.client_errors} | — | |",
        f"| outages seen by clients | {outages or 'none'} | — | |",
        "| worker back after its kill (s, as `up` reports it) | "
        f"{', '.join(f'{s:.1f}' for s in soak.worker_back)} | — | |",
        "",
        f"Failed jobs: {failures}. All {'met' if ok else 'goals: **not met**'}.",
    ]


def write_report(
    up: dict, start: dict, polls: dict, conc: dict, fsync: dict, soak: SoakResult, quick: bool
) -> str:
    up_ratio = up["ours"] / up["bare"]
    poll_ratio = polls["ours"] / polls["bare"]
    concurrent_ok = not conc["errors"] and conc["lost"] == 0 and conc["accepted"] == conc["uploads"]
    lines = [
        "# Service benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
        f"{' (quick mode)' if quick else ''}. One API process (uvicorn), one Celery worker, "
        "Redis and an MLflow server, all on this machine. "
        "Command: `.venv/bin/python -m bench.service`.",
        "",
        "| measure | ours | bare framework | goal | |",
        "| --- | --- | --- | --- | --- |",
        f"| upload {up['bytes'] / 1e6:.0f} MB CSV in 1 MiB chunks (MiB/s, best round) | "
        f"{up['ours']:.0f} | {up['bare']:.0f} (Starlette + Redis APPEND) | ≥ 80 % of bare: "
        f"{up_ratio:.0%} | {_verdict(up_ratio >= 0.8)} |",
        f"| last chunk answered → job `running`, idle worker (ms) | p50 {start['p50']:.1f}, "
        f"p90 {start['p90']:.1f}, max {start['max']:.1f} ({start['samples']} jobs) | "
        f"bare Celery: 2 ms p50 (issue) | p50 ≤ 10 ms | {_verdict(start['p50'] <= 10)} |",
        f"| status polls per second ({polls['tool']}, 16 connections, "
        f"{polls['body_bytes']} B body) | {polls['ours']:.0f} | {polls['bare']:.0f} "
        f"(Starlette + Redis GET) | ≥ 90 % of bare: {poll_ratio:.0%} | "
        f"{_verdict(poll_ratio >= 0.9)} |",
        f"| {conc['uploads']} concurrent uploads (3 chunks each) with polling beside them | "
        f"{len(conc['errors'])} errors, {conc['lost']} lost, {conc['completed']} completed, "
        f"{conc['failed']} failed | — | 0 errors, 0 lost | "
        f"{_verdict(concurrent_ok)} |",
        "",
        f"Upload rounds (MiB/s): ours {', '.join(f'{v:.0f}' for v in up['ours_all'])}; "
        f"bare {', '.join(f'{v:.0f}' for v in up['bare_all'])}.",
        f"Concurrent uploads: all {conc['uploads']} sent in {conc['upload_seconds']:.1f} s, "
        f"all jobs finished {conc['all_done_seconds']:.0f} s after the start "
        f"(one worker, 1 s budget each); {conc['polls']} status requests meanwhile.",
    ]
    if conc["errors"]:
        lines += ["", "Errors:", *[f"- {e}" for e in conc["errors"][:20]]]
    lines += fsync_lines(fsync)
    lines += soak_lines(soak)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples")
    parser.add_argument(
        "--only",
        default="upload,start,polls,concurrent,fsync,soak",
        help="comma-separated parts to run",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    skipped: dict = {}
    stack = BenchStack().start(MODELTRAIN_TRAIN_THREADS="1")
    try:
        bare_url = stack.start_bare()
        up = start = polls = conc = fsync = soak = skipped
        if "upload" in parts:
            up = bench_upload(stack, bare_url, rounds=2 if args.quick else 4)
            print("upload", {k: v for k, v in up.items() if not k.endswith("_all")}, flush=True)
        if "start" in parts:
            start = bench_start_latency(stack, samples=5 if args.quick else 20)
            print("start", start, flush=True)
        if "polls" in parts:
            polls = bench_polls(
                stack, bare_url, seconds=3 if args.quick else 5, rounds=2 if args.quick else 3
            )
            print("polls", polls, flush=True)
        if "concurrent" in parts:
            conc = asyncio.run(_concurrent(stack, uploads=10 if args.quick else 50))
            print("concurrent", {k: v for k, v in conc.items() if k != "errors"}, flush=True)
    finally:
        stack.stop()
    run_dir = Path(tempfile.mkdtemp(prefix="mt-bench-up-"))
    if "fsync" in parts:
        fsync = bench_fsync(run_dir / "fsync", rounds=2 if args.quick else 3)
        print("fsync", fsync, flush=True)
    if "soak" in parts:
        seconds, uploaders = (20, 10) if args.quick else (60, 50)
        soak = run_soak(run_dir / "soak", seconds=seconds, uploaders=uploaders)
        print("\n".join(soak_lines(soak)), flush=True)
    if any(part is skipped for part in (up, start, polls, conc, fsync, soak)):
        return  # a partial run is for looking, not for the record
    report = write_report(up, start, polls, conc, fsync, soak, args.quick)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
