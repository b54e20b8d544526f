"""The processes of the one-machine service: Redis (when none answers), an MLflow server (when
MLFLOW_TRACKING_URI is unset), a Celery worker and the API."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

import redis

from modeltrain.runtime.processes import ManagedProcess, StartupError, http_ok, port_open

REDIS_INSTALL_HINT = (
    "redis-server was not found on PATH. Install it (Debian/Ubuntu: "
    "`sudo apt-get install -y redis-server`; macOS: `brew install redis`), "
    "or point MODELTRAIN_REDIS_URL at a running Redis."
)


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError, ValueError):
        return False


def redis_process(url: str, data_dir: Path, appendfsync: str = "everysec") -> ManagedProcess:
    """A local redis-server for ``url`` with its append-only file under ``data_dir``, synced
    to disk as ``appendfsync`` says (`everysec` or `always`)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StartupError(REDIS_INSTALL_HINT)
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--bind", host,
        "--port", str(port),
        "--dir", str(folder.resolve()),
        "--appendonly", "yes",
        "--appendfsync", appendfsync,
        "--save", "",
        "--daemonize", "no",
        "--protected-mode", "no",
    ]  # fmt: skip
    return ManagedProcess(
        "redis",
        argv,
        log_path=folder / "redis.log",
        ready=lambda: redis_answers(url),
    )


def mlflow_process(
    port: int, data_dir: Path, env: dict[str, str], host: str = "127.0.0.1"
) -> ManagedProcess:
    """An MLflow tracking server: SQLite backend, artifacts served by the server."""
    folder = (data_dir / "mlflow").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", host,
        "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    env = {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return ManagedProcess(
        "mlflow",
        argv,
        env=env,
        log_path=folder / "server.log",
        ready=lambda: http_ok(f"http://{host}:{port}/health"),
    )


def worker_answers(redis_url: str, node: str) -> bool:
    """True when the Celery worker ``node`` answers a ping over the broker."""
    from celery import Celery

    if not redis_answers(redis_url):  # Celery's own connection would retry for a long time
        return False

    app = Celery("probe", broker=redis_url, set_as_current=False)
    try:
        replies = app.control.ping(destination=[node], timeout=0.5) or []
        return any(node in reply for reply in replies)
    except Exception:  # broker not reachable yet
        return False
    finally:
        app.close()


def worker_process(
    env: dict[str, str],
    redis_url: str,
    log_path: Path | None = None,
    name: str = "worker",
    concurrency: int = 1,
) -> ManagedProcess:
    node = f"{name}@{socket.gethostname()}"
    argv = [
        sys.executable, "-m", "modeltrain", "worker",
        "--name", node, "--concurrency", str(concurrency),
    ]  # fmt: skip
    return ManagedProcess(
        f"worker {node}",
        argv,
        env=env,
        log_path=log_path,
        ready=lambda: worker_answers(redis_url, node),
    )


def api_process(
    env: dict[str, str], host: str, port: int, log_path: Path | None = None
) -> ManagedProcess:
    argv = [sys.executable, "-m", "modeltrain", "api", "--host", host, "--port", str(port)]
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return ManagedProcess(
        "api",
        argv,
        env=env,
        log_path=log_path,
        ready=lambda: (
            port_open(probe_host, port) and http_ok(f"http://{probe_host}:{port}/healthz")
        ),
    )
