"""Scale benchmark: the same batch of short jobs with one worker and with two (each one
process, model threads limited to one core); jobs per minute.

    .venv/bin/python -m bench.scale [--jobs 16]

Writes bench/results/scale.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench._stack import BenchStack
from tests.factories import slow_frame

RESULTS = Path(__file__).parent / "results" / "scale.md"


def run_batch(workers: int, jobs: int, budget: int) -> dict:
    stack = BenchStack().start(workers=workers, MODELTRAIN_TRAIN_THREADS="1")
    try:
        csv = slow_frame(rows=20_000, seed=5).to_csv(index=False).encode()
        with httpx.Client(base_url=stack.api_url, timeout=60) as api:
            started = time.perf_counter()
            ids = []
            for i in range(jobs):
                form = {"filename": f"job{i}.csv", "chunkIndex": "0", "totalChunks": "1",
                        "timeBudget": str(budget)}  # fmt: skip
                r = api.post("/api/model-train/start", data=form, files={"chunk": ("c", csv)})
                r.raise_for_status()
                ids.append(r.json()["trackingId"])
            pending = set(ids)
            nodes: dict[str, int] = {}
            failed = 0
            while pending:
                for tracking_id in list(pending):
                    job = api.get(f"/api/model-train/status/{tracking_id}").json()
                    if job["status"] in ("completed", "failed"):
                        pending.discard(tracking_id)
                        failed += job["status"] == "failed"
                        node = (job.get("worker") or "?").split(":")[0]
                        nodes[node] = nodes.get(node, 0) + 1
                time.sleep(0.1)
            seconds = time.perf_counter() - started
    finally:
        stack.stop()
    return {"workers": workers, "jobs": jobs, "seconds": seconds, "per_minute": jobs * 60 / seconds,
            "failed": failed, "nodes": nodes}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--budget", type=int, default=3, help="each job's time budget (s)")
    args = parser.parse_args()
    one = run_batch(1, args.jobs, args.budget)
    print(one, flush=True)
    two = run_batch(2, args.jobs, args.budget)
    print(two, flush=True)
    ratio = two["per_minute"] / one["per_minute"]
    lines = [
        "# Scale benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores. "
        f"{args.jobs} jobs (20,000-row regression CSV whose boosting runs to the budget: {args.budget} s each) sent at once to one API "
        "process; workers are `modeltrain worker` processes with MODELTRAIN_TRAIN_THREADS=1; Redis, "
        "the MLflow server and the API share the same 2 cores. "
        "Command: `.venv/bin/python -m bench.scale`.",
        "",
        "| workers | batch time (s) | jobs per minute | failed | jobs per worker |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in (one, two):
        spread = ", ".join(f"{n}: {c}" for n, c in sorted(r["nodes"].items()))
        lines.append(
            f"| {r['workers']} | {r['seconds']:.1f} | {r['per_minute']:.1f} | {r['failed']} | {spread} |"
        )
    lines += ["", f"Two workers: **{ratio:.2f}×** one worker's throughput (goal ≥ 1.8×: "
              f"{'met' if ratio >= 1.8 else 'not met'})."]  # fmt: skip
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
