"""Fixtures that start real parts: a Redis server, an MLflow tracking server, a Celery worker
process and the API process. Each test run gets its own Redis (or database) and key prefix."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from modeltrain.config import child_environment
from modeltrain.runtime.processes import ManagedProcess, free_port
from modeltrain.runtime.stack import (
    api_process,
    mlflow_process,
    redis_answers,
    redis_process,
    worker_process,
)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / ".artifacts"
WEBHOOK_SECRET = "webhook-test-secret"


@dataclass
class RedisServer:
    url: str
    prefix: str
    process: ManagedProcess | None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("modeltrain")


@pytest.fixture(scope="session")
def redis_server(run_dir: Path) -> Iterator[RedisServer]:
    """A redis-server of our own on a free port; else the one at MODELTRAIN_TEST_REDIS_URL
    (default: database 15 of the local Redis). Either way keys carry a per-run prefix."""
    prefix = f"mt-test-{uuid.uuid4().hex[:8]}"
    if shutil.which("redis-server"):
        url = f"redis://127.0.0.1:{free_port()}/0"
        proc = redis_process(url, run_dir).start().wait_ready(20)
        yield RedisServer(url, prefix, proc)
        proc.stop()
        return
    url = os.environ.get("MODELTRAIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if not redis_answers(url):
        pytest.exit("no redis-server binary and no Redis at " + url, returncode=2)
    yield RedisServer(url, prefix, None)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


@dataclass
class Stack:
    api_url: str
    mlflow_uri: str
    redis: RedisServer
    env: dict[str, str]
    processes: dict[str, ManagedProcess]

    def http(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=60, **kwargs)


@pytest.fixture(scope="session")
def mlflow_server(run_dir: Path) -> Iterator[str]:
    port = free_port()
    proc = mlflow_process(port, run_dir, child_environment()).start().wait_ready(120)
    yield f"http://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture(scope="session")
def stack(redis_server: RedisServer, mlflow_server: str, run_dir: Path) -> Iterator[Stack]:
    """The whole service as separate processes: API (uvicorn) + one Celery worker."""
    env = child_environment(
        MODELTRAIN_REDIS_URL=redis_server.url,
        MODELTRAIN_REDIS_PREFIX=redis_server.prefix,
        MLFLOW_TRACKING_URI=mlflow_server,
        MODELTRAIN_DATA_DIR=str(run_dir),
        MODELTRAIN_MAX_UPLOAD_BYTES="2000000",
        MODELTRAIN_MAX_CHUNK_BYTES="1000000",
        MODELTRAIN_DEFAULT_TIME_BUDGET="3",  # a search uses its whole budget: keep jobs short
        MODELTRAIN_MAX_TIME_BUDGET="15",  # fuzzed uploads cannot keep the worker busy long
        MODELTRAIN_ALIAS_TTL_SECONDS="1",
        MODELTRAIN_WEBHOOK_ALLOWED_HOSTS='["127.0.0.1"]',  # the webhook tests' receiver
        MODELTRAIN_WEBHOOK_SECRET=WEBHOOK_SECRET,
        MODELTRAIN_WEBHOOK_ATTEMPTS="3",
        PYTHONPATH=str(ROOT),
    )
    logs = ARTIFACTS / "logs"
    port = free_port()
    worker = worker_process(env, redis_server.url, logs / "worker.log", name=f"w{port}")
    api = api_process(env, "127.0.0.1", port, logs / "api.log")
    processes = {"worker": worker.start(), "api": api.start()}
    try:
        worker.wait_ready(90)
        api.wait_ready(60)
        yield Stack(f"http://127.0.0.1:{port}", mlflow_server, redis_server, env, processes)
    finally:
        for proc in processes.values():
            proc.stop()


@pytest.fixture(autouse=True, scope="session")
def _python_on_path() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
