"""Starting the service's real processes for a benchmark (the same code `modeltrain up` uses)."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modeltrain.config import child_environment
from modeltrain.runtime.processes import ManagedProcess, free_port, http_ok, port_open
from modeltrain.runtime.stack import api_process, mlflow_process, redis_process, worker_process

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class BenchStack:
    run_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mt-bench-")))
    processes: list[ManagedProcess] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    redis_url: str = ""
    mlflow_uri: str = ""
    api_url: str = ""

    def start(self, workers: int = 1, **settings: str) -> BenchStack:
        """Redis, MLflow, ``workers`` workers and an API; what started is stopped again if a
        later part fails (a caller's ``finally: stop()`` never sees a half-started stack)."""
        try:
            return self._start(workers, **settings)
        except BaseException:
            self.stop()
            raise

    def _start(self, workers: int, **settings: str) -> BenchStack:
        self.redis_url = f"redis://127.0.0.1:{free_port()}/0"
        self._add(redis_process(self.redis_url, self.run_dir).start().wait_ready(20))
        port = free_port()
        self.mlflow_uri = f"http://127.0.0.1:{port}"
        base = child_environment(PYTHONPATH=str(ROOT))
        self._add(mlflow_process(port, self.run_dir, base).start().wait_ready(120))
        self.env = child_environment(
            MODELTRAIN_REDIS_URL=self.redis_url,
            MLFLOW_TRACKING_URI=self.mlflow_uri,
            MODELTRAIN_DATA_DIR=str(self.run_dir),
            PYTHONPATH=str(ROOT),
            **{"MODELTRAIN_LOG_LEVEL": "WARNING", **settings},
        )
        for i in range(workers):
            self.start_worker(f"b{i}")
        api_port = free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        log = self.run_dir / "logs" / "api.log"
        self._add(api_process(self.env, "127.0.0.1", api_port, log).start().wait_ready(60))
        return self

    def start_worker(self, name: str) -> ManagedProcess:
        """One more worker process (a fresh one, with its own warm-up) on this stack."""
        log = self.run_dir / "logs" / f"worker-{name}.log"
        proc = worker_process(self.env, self.redis_url, log, name=name)
        self._add(proc.start().wait_ready(90))
        return proc

    def stop_process(self, proc: ManagedProcess) -> None:
        self.processes.remove(proc)
        proc.stop()

    def start_api(self, **settings: str) -> str:
        """One more API process on this stack's Redis and MLflow, with other settings."""
        port = free_port()
        env = {**self.env, **settings}
        log = self.run_dir / "logs" / f"api-{port}.log"
        self._add(api_process(env, "127.0.0.1", port, log).start().wait_ready(60))
        return f"http://127.0.0.1:{port}"

    def start_bare(self) -> str:
        port = free_port()
        argv = [
            sys.executable, "-m", "uvicorn", "bench.bare_app:app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]  # fmt: skip
        env = child_environment(BENCH_REDIS_URL=self.redis_url, PYTHONPATH=str(ROOT))
        proc = ManagedProcess(
            "bare", argv, env=env, cwd=ROOT,
            ready=lambda: port_open("127.0.0.1", port) and http_ok(f"http://127.0.0.1:{port}/status/x"),
        )  # fmt: skip
        self._add(proc.start().wait_ready(30))
        return f"http://127.0.0.1:{port}"

    def _add(self, proc: ManagedProcess) -> None:
        self.processes.append(proc)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()


def chunk_form(
    filename: str, index: int, total: int, tracking_id: str | None, **first: str
) -> dict[str, str]:
    """The form fields of one chunk; ``first`` (options such as timeBudget) go with chunk 0,
    with ``force``: a benchmark uploads the same file many times and means each to train."""
    form = {"filename": filename, "chunkIndex": str(index), "totalChunks": str(total)}
    form.update({"trackingId": tracking_id} if tracking_id else {"force": "true", **first})
    return form


def upload_csv(api: httpx.Client, csv: bytes, filename: str, chunk_bytes: int = 1024 * 1024,
               **options: str) -> str:  # fmt: skip
    """Send a CSV in chunks the way the web page does; `options` go with the first chunk.
    Returns the trackingId."""
    parts = [csv[i : i + chunk_bytes] for i in range(0, len(csv), chunk_bytes)]
    tracking_id = None
    for i, part in enumerate(parts):
        form = chunk_form(filename, i, len(parts), tracking_id, **options)
        r = api.post("/api/model-train/start", data=form, files={"chunk": ("c", part)})
        r.raise_for_status()
        tracking_id = r.json()["trackingId"]
    return tracking_id
