"""`modeltrain up` started the way a user starts it, in a subprocess, with what a fault test
needs to find and kill its children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from modeltrain.config import child_environment
from modeltrain.constants import SUPERVISOR_STATE_FILENAME
from modeltrain.runtime.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
MODELTRAIN = Path(sys.executable).parent / "modeltrain"  # the console script a user runs


class Up:
    """One `modeltrain up`; Redis and MLflow are its own unless ``redis_url``/``mlflow_uri``
    point at running ones."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        redis_url: str | None = None,
        mlflow_uri: str | None = None,
        **settings: str,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.redis_url = redis_url or f"redis://127.0.0.1:{free_port()}/0"
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.mlflow_port = free_port()
        self.mlflow_uri = mlflow_uri or f"http://127.0.0.1:{self.mlflow_port}"
        self.env = child_environment(
            MODELTRAIN_REDIS_URL=self.redis_url,
            MLFLOW_TRACKING_URI=mlflow_uri,
            MODELTRAIN_DATA_DIR=str(data_dir),
            PYTHONPATH=str(ROOT),
            **settings,
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def state_file(self) -> Path:
        return self.data_dir / SUPERVISOR_STATE_FILENAME

    def start(self, timeout: float = 180) -> Up:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(MODELTRAIN), "up", "--port", str(self.api_port),
                 "--mlflow-port", str(self.mlflow_port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.wait_until(lambda: self.child("api").get("state") == "running", timeout, "api up")
        return self

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager (or Ctrl-C) does; returns `up`'s exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    # --- what `up` knows of its children ---------------------------------------------------
    def state(self) -> dict:
        try:
            return orjson.loads(self.state_file.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}

    def child(self, role: str) -> dict:
        return self.state().get("children", {}).get(role, {})

    def kill(self, role: str) -> int:
        """SIGKILL a child and every process of its group (a worker's pool processes too), as
        the kernel's OOM killer may; returns the pid it had."""
        pid = self.child(role)["pid"]
        os.killpg(pid, signal.SIGKILL)
        return pid

    def wait_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, (
                f"`modeltrain up` exited ({self.proc.returncode if self.proc else None}); "
                f"see {self.log_path}"
            )
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(f"{what}: not within {timeout} s; state {self.state()}")

    def wait_restarted(self, role: str, restarts: int, timeout: float = 90) -> None:
        def running_again() -> bool:
            child = self.child(role)
            return child.get("restarts", 0) >= restarts and child.get("state") == "running"

        self.wait_until(running_again, timeout, f"{role} running again")

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30)


def process_groups_alive(pgids: set[int]) -> set[int]:
    """Those of ``pgids`` that still have a process (read from /proc)."""
    alive = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            state, pgid = fields[0], int(fields[2])
            if pgid in pgids and state != "Z":
                alive.add(pgid)
    return alive
