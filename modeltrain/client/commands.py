"""The `modeltrain train|status|models|predict` commands: the HTTP API for terminals."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from modeltrain.client.http import ServiceClient, ServiceError

if TYPE_CHECKING:
    from modeltrain.config import Settings

# Piped output is not cut to 80 columns: tables stay one row per line for grep and friends.
console = Console(width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 240)


def _client(args: argparse.Namespace) -> ServiceClient:
    return ServiceClient(args.url, args.api_key)


def cmd_train(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        err.print(f"[red]no such file: {path}[/red]")
        return 2
    with _client(args) as client:
        with Progress(
            TextColumn("uploading {task.fields[name]}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("upload", total=path.stat().st_size, name=path.name)
            answer = client.upload(
                path,
                target=args.target,
                task=args.task,
                model_name=args.model_name,
                time_budget=args.time_budget,
                on_progress=lambda sent, total: bar.update(task, completed=sent, total=total),
            )
        tracking_id = answer["trackingId"]
        err.print(f"uploaded; tracking id [bold]{tracking_id}[/bold]")
        if not args.wait:
            console.print(tracking_id)
            return 0
        job = _follow(client, tracking_id)
    if job["status"] == "failed":
        err.print(f"[red]training failed:[/red] {job['error']}")
        return 1
    metrics = job["result"]["metrics"]
    primary = job["result"]["primaryMetric"]
    err.print(
        f"[green]completed[/green]: {job['result']['estimator']}, "
        f"held-out {primary} = {metrics[primary]:.4f}"
    )
    console.print(job["modelId"])
    return 0


def _search_text(job: dict) -> str:
    """The model search's best validation score so far and its time left, when known."""
    parts = []
    if job.get("bestScore") is not None:
        parts.append(f"best {job['bestScore']:.4f}")
    if job.get("eta") is not None and job["stage"] == "training":
        parts.append(f"~{job['eta']:.0f} s left")
    return ", ".join(parts)


def _follow(client: ServiceClient, tracking_id: str) -> dict:
    """Follow the job to its end: a progress bar on a terminal, else a line per stage (a log
    or CI output keeps what happened)."""
    if not err.is_terminal:
        stage = None
        for job in client.follow(tracking_id):
            if job["stage"] != stage:
                stage = job["stage"]
                search = _search_text(job)
                err.print(f"{stage} {job['progress']}%" + (f" ({search})" if search else ""))
        return job
    with Progress(
        TextColumn("{task.fields[stage]:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[search]}"),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("train", total=100, stage="queued", search="")
        for job in client.follow(tracking_id):
            bar.update(
                task, completed=job["progress"], stage=job["stage"], search=_search_text(job)
            )
    return job


def cmd_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.tracking_id:
            job = client.job(args.tracking_id)
            table = Table(show_header=False)
            for key in ("trackingId", "status", "stage", "progress", "filename", "modelId",
                        "error", "createdAt", "updatedAt"):  # fmt: skip
                table.add_row(key, str(job.get(key) if job.get(key) is not None else ""))
            if job.get("result"):
                for name, value in job["result"]["metrics"].items():
                    table.add_row(f"metric {name}", f"{value:.4f}")
            console.print(table)
            return 1 if job["status"] == "failed" else 0
        table = Table("trackingId", "status", "progress", "file", "created", "modelId")
        for job in client.jobs(limit=args.limit):
            table.add_row(
                job["trackingId"], job["status"], f"{job['progress']}%", job["filename"],
                job["createdAt"], job.get("modelId") or "",
            )  # fmt: skip
        console.print(table)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    with _client(args) as client:
        table = Table("modelId", "aliases", "status", "metrics", "trackingId")
        for model in client.models():
            aliases_of: dict[str, list[str]] = {}
            for alias, version in (model.get("aliases") or {}).items():
                aliases_of.setdefault(str(version), []).append(f"@{alias}")
            for version in model["versions"]:
                metrics = ", ".join(f"{k}={v:.3f}" for k, v in version["metrics"].items())
                table.add_row(
                    version["modelId"],
                    " ".join(sorted(aliases_of.get(str(version["version"]), []))),
                    version["status"],
                    metrics,
                    version.get("trackingId") or "",
                )
        console.print(table)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        err.print(f"[red]no such file: {path}[/red]")
        return 2
    with _client(args) as client:
        out = client.predict_csv(args.model_id, path.read_bytes(), args.probabilities)
    if args.output:
        Path(args.output).write_bytes(out)
        err.print(f"predictions written to {args.output}")
    else:
        sys.stdout.write(out.decode())
    return 0


def add_client_commands(sub: argparse._SubParsersAction, settings: Settings) -> None:
    """Register the client commands, each with --url and --api-key."""

    def client_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument(
            "--url", default=settings.url, help=f"the service (MODELTRAIN_URL; {settings.url})"
        )
        parser.add_argument(
            "--api-key", default=settings.api_key, help="API key (MODELTRAIN_API_KEY)"
        )
        return parser

    train = client_parser("train", "upload a CSV and train a model on it")
    train.add_argument("file")
    train.add_argument("--target", help="column to predict (default: the last one)")
    train.add_argument("--task", choices=["auto", "classification", "regression"])
    train.add_argument("--model-name", help="registry name (default: from the file name)")
    train.add_argument("--time-budget", type=float, help="seconds of model search")
    train.add_argument(
        "--wait", action=argparse.BooleanOptionalAction, default=True,
        help="follow training to the end (default) and print the modelId",
    )  # fmt: skip
    train.set_defaults(func=lambda a, s: _guard(cmd_train, a))

    status = client_parser("status", "all jobs as a table, or one job")
    status.add_argument("tracking_id", nargs="?")
    status.add_argument("--limit", type=int, default=50)
    status.set_defaults(func=lambda a, s: _guard(cmd_status, a))

    models = client_parser("models", "registered models and their versions")
    models.set_defaults(func=lambda a, s: _guard(cmd_models, a))

    predict = client_parser("predict", "predict the rows of a CSV file")
    predict.add_argument("model_id", help="models:/<name>/<version> or models:/<name>@<alias>")
    predict.add_argument("file")
    predict.add_argument("-o", "--output", help="write the predictions (CSV) here")
    predict.add_argument("--probabilities", action="store_true", help="add class probabilities")
    predict.set_defaults(func=lambda a, s: _guard(cmd_predict, a))


def _guard(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return command(args)
    except ServiceError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1
