"""A service whose parts the fault tests stop, kill and restart one by one."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from modeltrain.config import child_environment
from modeltrain.runtime.processes import ManagedProcess, free_port
from modeltrain.runtime.stack import api_process, mlflow_process, redis_process, worker_process

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 6  # short leases so that a lost worker is noticed within seconds


class FaultStack:
    def __init__(self, run_dir: Path, logs: Path) -> None:
        self.run_dir = run_dir
        self.logs = logs
        self.redis_url = f"redis://127.0.0.1:{free_port()}/0"
        self.mlflow_port = free_port()
        self.mlflow_uri = f"http://127.0.0.1:{self.mlflow_port}"
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.env = child_environment(
            MODELTRAIN_REDIS_URL=self.redis_url,
            MODELTRAIN_REDIS_PREFIX="mt-faults",
            MLFLOW_TRACKING_URI=self.mlflow_uri,
            MODELTRAIN_DATA_DIR=str(run_dir),
            MODELTRAIN_LEASE_SECONDS=str(LEASE_SECONDS),
            MODELTRAIN_TRAIN_THREADS="1",
            MODELTRAIN_DEFAULT_TIME_BUDGET="6",  # the quick jobs (the slow ones say their own)
            MODELTRAIN_MLFLOW_REQUEST_TIMEOUT="5",
            MODELTRAIN_MLFLOW_REQUEST_RETRIES="1",
            PYTHONPATH=str(ROOT),
        )
        self.redis: ManagedProcess | None = None
        self.mlflow: ManagedProcess | None = None
        self.api: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self._worker_count = 0

    # --- parts ---------------------------------------------------------------------------
    def start_redis(self) -> None:
        self.redis = redis_process(self.redis_url, self.run_dir).start().wait_ready(20)

    def start_mlflow(self) -> None:
        self.mlflow = mlflow_process(self.mlflow_port, self.run_dir, self.env)
        self.mlflow.start().wait_ready(120)

    def start_api(self) -> None:
        self.api = api_process(self.env, "127.0.0.1", self.api_port, self.logs / "faults-api.log")
        self.api.start().wait_ready(60)

    def start_worker(self, **settings: str) -> ManagedProcess:
        """One more worker; ``settings`` are environment variables of its own."""
        self._worker_count += 1
        name = f"fault{self._worker_count}"
        env = {**self.env, **settings}
        worker = worker_process(env, self.redis_url, self.logs / f"faults-{name}.log", name=name)
        worker.start().wait_ready(90)
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: ManagedProcess, sig: int = signal.SIGKILL) -> None:
        worker.stop(timeout=20, sig=sig)
        self.workers.remove(worker)

    def start(self) -> FaultStack:
        self.start_redis()
        self.start_mlflow()
        self.start_worker()
        self.start_api()
        return self

    def stop(self) -> None:
        for proc in [*self.workers, self.api, self.mlflow, self.redis]:
            if proc is not None:
                proc.stop()

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=60)
