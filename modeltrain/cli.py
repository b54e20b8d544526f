"""The `modeltrain` command: `up` (everything on one machine), `api`, `worker`, `keys new`;
and, over the HTTP API, `train`, `status`, `models`, `predict`, `retrain`, `jobs`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from modeltrain.config import Settings, child_environment, get_settings
from modeltrain.constants import SUPERVISOR_STATE_FILENAME
from modeltrain.logging import configure_logging

log = logging.getLogger("modeltrain.cli")


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    uvicorn.run(
        "modeltrain.api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from modeltrain.constants import CELERY_QUEUE
    from modeltrain.worker.app import celery_app

    argv = [
        "worker",
        "--queues", CELERY_QUEUE,
        "--concurrency", str(args.concurrency or settings.worker_concurrency),
        "--pool", settings.worker_pool,
        "--loglevel", settings.log_level,
        "--without-mingle",
        "--task-events",
    ]  # fmt: skip
    if args.name:
        argv += ["--hostname", args.name]
    celery_app.worker_main(argv)
    return 0


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from modeltrain.runtime.processes import StartupError
    from modeltrain.runtime.stack import (
        api_process,
        mlflow_process,
        redis_answers,
        redis_process,
        worker_process,
    )
    from modeltrain.runtime.supervisor import Supervisor

    data_dir = Path(settings.data_dir).resolve()
    logs = data_dir / "logs"
    state_file = data_dir / SUPERVISOR_STATE_FILENAME
    supervisor = Supervisor(state_file)

    def _stop(signum: int, _frame: object) -> None:
        supervisor.request_stop()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        if not redis_answers(settings.redis_url):
            redis = redis_process(settings.redis_url, data_dir, settings.redis_appendfsync)
            supervisor.start("redis", redis, 30)
        tracking_uri = settings.mlflow_tracking_uri
        if not tracking_uri:
            mlflow_host = "127.0.0.1"
            tracking_uri = f"http://{mlflow_host}:{args.mlflow_port}"
            mlflow = mlflow_process(args.mlflow_port, data_dir, child_environment(), mlflow_host)
            supervisor.start("mlflow", mlflow, 90)
        env = child_environment(
            MLFLOW_TRACKING_URI=tracking_uri,
            MODELTRAIN_SUPERVISOR_STATE_FILE=str(state_file),
        )
        supervisor.start("worker", worker_process(env, settings.redis_url, logs / "worker.log"), 60)
        supervisor.start("api", api_process(env, args.host, args.port, logs / "api.log"), 60)
        if supervisor.stopping:
            return 0
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        print(
            f"\nModel Train Service is up:\n"
            f"  API      http://{shown}:{args.port}  (docs: /docs)\n"
            f"  MLflow   {tracking_uri}\n"
            f"  data     {data_dir}\n"
            f"  logs     {logs}\n"
            "A process that exits is started again. Press Ctrl-C to stop.\n",
            flush=True,
        )
        supervisor.run()
        return 0
    except StartupError as exc:
        print(f"modeltrain up: {exc}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop_all()


def cmd_keys_new(args: argparse.Namespace, settings: Settings) -> int:
    """A new random key, and the MODELTRAIN_API_KEYS line that adds it to the keys already set
    (only its digest goes in the settings: print the key once, store it where clients keep
    secrets)."""
    import json
    import secrets

    from modeltrain.api.auth import key_digest

    key = secrets.token_urlsafe(32)
    keys = {**settings.api_keys, key_digest(key): args.role}
    print(f"new {args.role} key (shown once; send it as 'Authorization: Bearer <key>'):")
    print(f"  {key}")
    print("add to the service's settings (.env or environment), replacing any earlier line:")
    print(f"  MODELTRAIN_API_KEYS='{json.dumps(keys, separators=(',', ':'))}'")
    return 0


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modeltrain", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the whole service on this machine, in the foreground")
    up.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8000, help="API port (default 8000)")
    up.add_argument("--mlflow-port", type=int, default=5000, help="MLflow port (default 5000)")
    up.set_defaults(func=cmd_up)

    api = sub.add_parser("api", help="start one API process (uvicorn)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="start one Celery worker of celery-app")
    worker.add_argument("--name", help="Celery node name, e.g. worker1@%%h")
    worker.add_argument("--concurrency", type=int, help="jobs at once (default: setting)")
    worker.set_defaults(func=cmd_worker)

    keys = sub.add_parser("keys", help="API keys with roles")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    new_key = keys_sub.add_parser("new", help="make a key and print its settings line")
    new_key.add_argument("--role", choices=["predict", "train", "admin"], required=True)
    new_key.set_defaults(func=cmd_keys_new)

    from modeltrain.client.commands import add_client_commands

    add_client_commands(parser, sub, settings)
    return parser


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    args = build_parser(settings).parse_args(argv)
    sys.exit(args.func(args, settings))
