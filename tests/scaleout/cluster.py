"""Several "hosts" on one machine: two API processes and two workers, each with its own working
and data directory (no shared disk), one Redis, and an MLflow server on PostgreSQL that proxies
the artifacts (`mlflow-artifacts:` URIs), as in production."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import psycopg

from modeltrain.config import child_environment
from modeltrain.runtime.processes import ManagedProcess, free_port, http_ok
from modeltrain.runtime.stack import api_process, redis_process, worker_process

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 6


def postgres_answers(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


class Cluster:
    def __init__(self, run_dir: Path, logs: Path, postgres_url: str) -> None:
        self.run_dir = run_dir
        self.logs = logs
        self.admin_url = postgres_url
        self.database = f"mt_test_{uuid.uuid4().hex[:8]}"
        self.redis_url = f"redis://127.0.0.1:{free_port()}/0"
        self.mlflow_uri = ""
        self.api_urls: list[str] = []
        self.workers: dict[str, ManagedProcess] = {}
        self.processes: list[ManagedProcess] = []

    def _host_dir(self, name: str) -> Path:
        folder = self.run_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def env(self, host: str) -> dict[str, str]:
        return child_environment(
            MODELTRAIN_REDIS_URL=self.redis_url,
            MODELTRAIN_REDIS_PREFIX="mt-cluster",
            MLFLOW_TRACKING_URI=self.mlflow_uri,
            MODELTRAIN_DATA_DIR=str(self._host_dir(host) / "data"),
            MODELTRAIN_LEASE_SECONDS=str(LEASE_SECONDS),
            MODELTRAIN_TRAIN_THREADS="1",
            MODELTRAIN_LOG_LEVEL="INFO",
            PYTHONPATH=str(ROOT),
        )

    def start(self) -> Cluster:
        self.processes.append(redis_process(self.redis_url, self._host_dir("redis")).start())
        self.processes[-1].wait_ready(20)
        self._create_database()
        self._start_mlflow()
        for host in ("api-a", "api-b"):
            port = free_port()
            api = api_process(self.env(host), "127.0.0.1", port, self.logs / f"cluster-{host}.log")
            api.cwd = self._host_dir(host)
            self.processes.append(api.start())
            self.api_urls.append(f"http://127.0.0.1:{port}")
        for host in ("worker-a", "worker-b"):
            self.start_worker(host)
        for proc in self.processes:
            proc.wait_ready(120)
        return self

    def start_worker(self, host: str) -> ManagedProcess:
        worker = worker_process(
            self.env(host), self.redis_url, self.logs / f"cluster-{host}.log", name=host
        )
        worker.cwd = self._host_dir(host)
        self.workers[host] = worker
        self.processes.append(worker.start())
        return worker

    def _create_database(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def _drop_database(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _start_mlflow(self) -> None:
        import sys

        port = free_port()
        self.mlflow_uri = f"http://127.0.0.1:{port}"
        backend = self.admin_url.rsplit("/", 1)[0] + f"/{self.database}"
        server_dir = self._host_dir("mlflow-server")
        argv = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", backend,
            "--artifacts-destination", str(server_dir / "artifacts"),
            "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ]  # fmt: skip
        mlflow = ManagedProcess(
            "mlflow-postgres",
            argv,
            env=child_environment(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
            cwd=server_dir,
            log_path=self.logs / "cluster-mlflow.log",
            ready=lambda: http_ok(f"{self.mlflow_uri}/health"),
        )
        self.processes.append(mlflow.start().wait_ready(180))

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()
        self._drop_database()

    def http(self, index: int) -> httpx.Client:
        return httpx.Client(base_url=self.api_urls[index], timeout=60)
