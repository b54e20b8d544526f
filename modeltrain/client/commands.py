"""The `modeltrain train|retrain|status|jobs|models|predict` commands: the HTTP API for
terminals."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from modeltrain.client.http import ServiceClient, ServiceError
from modeltrain.training_options import TRAINING

if TYPE_CHECKING:
    from modeltrain.config import Settings

# Piped output is not cut to 80 columns: tables stay one row per line for grep and friends.
console = Console(width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 240)


def _client(args: argparse.Namespace) -> ServiceClient:
    return ServiceClient(args.url, args.api_key)


def _missing(path: Path) -> bool:
    """True (and says so) when the file to send is not there."""
    if path.is_file():
        return False
    err.print(f"[red]no such file: {path}[/red]")
    return True


def cmd_train(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if _missing(path):
        return 2
    with _client(args) as client:
        with _upload_bar(path) as (bar, task):
            answer = client.upload(
                path,
                options=_options_given(args),
                force=args.force,
                on_progress=lambda sent, total: bar.update(task, completed=sent, total=total),
            )
        tracking_id = answer["trackingId"]
        if answer.get("duplicateOf"):
            err.print(
                f"already trained: [bold]{answer['modelId']}[/bold] (job {tracking_id}, same "
                "bytes and options; --force trains again)"
            )
            console.print(answer["modelId"] if args.wait else tracking_id)
            return 0
        err.print(f"uploaded; tracking id [bold]{tracking_id}[/bold]")
        return _finish(client, tracking_id, args.wait)


@contextmanager
def _upload_bar(path: Path) -> Iterator[tuple[Progress, TaskID]]:
    with Progress(
        TextColumn("uploading {task.fields[name]}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        yield bar, bar.add_task("upload", total=path.stat().st_size, name=path.name)


def _finish(client: ServiceClient, tracking_id: str, wait: bool) -> int:
    """Print the tracking id (no wait), or follow the job and print its modelId."""
    if not wait:
        console.print(tracking_id)
        return 0
    job = _follow(client, tracking_id)
    if job["status"] == "failed":
        err.print(f"[red]training failed:[/red] {job['error']}")
        return 1
    result = job["result"]
    primary = result["primaryMetric"]
    scheme = (result.get("validation") or {}).get("scheme", "random")
    threshold = result.get("decisionThreshold")
    at = "" if threshold is None else f"; labels at p({result['positiveClass']}) ≥ {threshold:.3g}"
    err.print(
        f"[green]completed[/green]: {result['estimator']}, "
        f"held-out {primary} = {result['metrics'][primary]:.4f} ({scheme} split{at})"
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


def _follow(client: ServiceClient, tracking_id: str, batch: bool = False) -> dict:
    """Follow the job to its end: a progress bar on a terminal, else a line per stage (a log
    or CI output keeps what happened)."""
    if not err.is_terminal:
        stage = None
        for job in client.follow(tracking_id, batch=batch):
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
        for job in client.follow(tracking_id, batch=batch):
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


def cmd_retrain(args: argparse.Namespace) -> int:
    with _client(args) as client:
        changes = _options_given(args)
        if isinstance(changes.get("families"), str):  # the body takes a list
            changes["families"] = changes["families"].split(",")
        answer = client.retrain(args.tracking_id, **changes)
        tracking_id = answer["trackingId"]
        err.print(f"retraining {args.tracking_id}'s data as job [bold]{tracking_id}[/bold]")
        return _finish(client, tracking_id, args.wait)


def cmd_jobs_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.forget_job(args.tracking_id)
    err.print(f"forgot job {args.tracking_id} (its model, if any, stays registered)")
    return 0


def cmd_models_alias(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.remove:
            answer = client.remove_alias(args.name, args.alias)
            err.print(f"removed @{args.alias} (it pointed at version {answer['version']})")
            return 0
        if not args.version:
            err.print("[red]give the version the alias should point at, or --remove[/red]")
            return 2
        answer = client.set_alias(args.name, args.alias, args.version)
    err.print(f"@{args.alias} -> {answer['modelId']}")
    console.print(answer["modelId"])
    return 0


def cmd_models_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        answer = client.delete_version(args.name, args.version, args.force)
    removed = answer["removedAliases"]
    suffix = f" and its aliases {', '.join('@' + a for a in removed)}" if removed else ""
    err.print(f"deleted {answer['modelId']}{suffix}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if (args.file is None) == (args.batch is None):
        err.print("[red]give the rows either as FILE or as --batch FILE[/red]")
        return 2
    if args.batch is not None:
        return _predict_batch(args)
    path = Path(args.file)
    if _missing(path):
        return 2
    with _client(args) as client:
        out = client.predict_csv(args.model_id, path.read_bytes(), args.probabilities)
    if args.output:
        Path(args.output).write_bytes(out)
        err.print(f"predictions written to {args.output}")
    else:
        sys.stdout.write(out.decode())
    return 0


def _predict_batch(args: argparse.Namespace) -> int:
    """Upload the file as a batch job (progress bars), wait for it, save or print the result."""
    path = Path(args.batch)
    if _missing(path):
        return 2
    with _client(args) as client:
        with _upload_bar(path) as (bar, task):
            answer = client.upload_batch(
                path,
                args.model_id,
                probabilities=args.probabilities,
                on_progress=lambda sent, total: bar.update(task, completed=sent, total=total),
            )
        tracking_id = answer["trackingId"]
        err.print(f"uploaded; batch job [bold]{tracking_id}[/bold]")
        job = _follow(client, tracking_id, batch=True)
        if job["status"] == "failed":
            err.print(f"[red]the batch job failed:[/red] {job['error']}")
            return 1
        if args.output:
            with open(args.output, "wb") as out:
                client.save_batch_result(tracking_id, out)
            err.print(f"{job['result']['rows']} predictions written to {args.output}")
        else:
            client.save_batch_result(tracking_id, sys.stdout.buffer)
    return 0


def add_client_commands(
    parser: argparse.ArgumentParser, sub: argparse._SubParsersAction, settings: Settings
) -> None:
    """Register the client commands. --url and --api-key apply to every one of them and may
    come before the command (`modeltrain --url … models`, as in git or kubectl) or after it;
    only the top-level parser holds their defaults, so that a value given before the command is
    not overwritten by a subcommand's default."""
    _connection_options(parser, settings, defaults=True)
    connection = argparse.ArgumentParser(add_help=False)
    _connection_options(connection, settings, defaults=False)

    def client_parser(
        name: str, help_text: str, under: argparse._SubParsersAction = sub
    ) -> argparse.ArgumentParser:
        return under.add_parser(name, help=help_text, parents=[connection])

    _add_job_commands(client_parser)
    _add_model_commands(client_parser)
    _add_predict_command(client_parser)


def _connection_options(
    parser: argparse.ArgumentParser, settings: Settings, *, defaults: bool
) -> None:
    url = settings.url if defaults else argparse.SUPPRESS
    key = settings.api_key if defaults else argparse.SUPPRESS
    parser.add_argument("--url", default=url, help=f"the service (MODELTRAIN_URL; {settings.url})")
    parser.add_argument("--api-key", default=key, help="API key (MODELTRAIN_API_KEY)")


def _options_given(args: argparse.Namespace) -> dict[str, Any]:
    """The training options given as flags, by their field names."""
    given = {option.field: getattr(args, f"option_{option.field}") for option in TRAINING}
    return {name: value for name, value in given.items() if value is not None}


def _run(command: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    return lambda args, _settings: _guard(command, args)


def _flag(field: str) -> str:
    """A training option's CLI flag: its wire name in kebab case (timeBudget: --time-budget)."""
    return "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", field).lower()


def _job_options(parser: argparse.ArgumentParser) -> None:
    """A flag per training option (training_options.py), its value sent as the field."""
    for option in TRAINING:
        parser.add_argument(
            _flag(option.field), dest=f"option_{option.field}", help=option.help,
            metavar=option.metavar, choices=option.choices,
            type=float if option.json_types == (int, float) else str,
        )  # fmt: skip
    parser.add_argument(
        "--wait", action=argparse.BooleanOptionalAction, default=True,
        help="follow training to the end (default) and print the modelId",
    )  # fmt: skip


def _add_job_commands(client_parser: Callable[..., argparse.ArgumentParser]) -> None:
    train = client_parser("train", "upload a CSV and train a model on it")
    train.add_argument("file")
    _job_options(train)
    train.add_argument(
        "--force", action="store_true", help="train even if the same file and options were"
    )
    train.set_defaults(func=_run(cmd_train))

    retrain = client_parser("retrain", "train again on a finished job's data, other options")
    retrain.add_argument("tracking_id")
    _job_options(retrain)
    retrain.set_defaults(func=_run(cmd_retrain))

    status = client_parser("status", "all jobs as a table, or one job")
    status.add_argument("tracking_id", nargs="?")
    status.add_argument("--limit", type=int, default=50)
    status.set_defaults(func=_run(cmd_status))

    jobs = client_parser("jobs", "finished jobs")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    forget = client_parser("delete", "forget a finished job (its model stays)", jobs_sub)
    forget.add_argument("tracking_id")
    forget.set_defaults(func=_run(cmd_jobs_delete))


def _add_model_commands(client_parser: Callable[..., argparse.ArgumentParser]) -> None:
    models = client_parser("models", "registered models and their versions (alias, delete)")
    models.set_defaults(func=_run(cmd_models))
    models_sub = models.add_subparsers(dest="models_command")
    alias = client_parser("alias", "point an alias at a version, or --remove it", models_sub)
    alias.add_argument("name")
    alias.add_argument("alias", help="e.g. champion, staging")
    alias.add_argument("version", nargs="?")
    alias.add_argument("--remove", action="store_true", help="remove the alias")
    alias.set_defaults(func=_run(cmd_models_alias))
    delete = client_parser("delete", "delete a version (admin key)", models_sub)
    delete.add_argument("name")
    delete.add_argument("version")
    delete.add_argument(
        "--force", action="store_true", help="also when aliases point at it (they go too)"
    )
    delete.set_defaults(func=_run(cmd_models_delete))


def _add_predict_command(client_parser: Callable[..., argparse.ArgumentParser]) -> None:
    predict = client_parser("predict", "predict the rows of a CSV file")
    predict.add_argument("model_id", help="models:/<name>/<version> or models:/<name>@<alias>")
    predict.add_argument("file", nargs="?", help="a CSV to predict in one request")
    predict.add_argument(
        "--batch", metavar="FILE", help="a CSV (up to 25 MB) to predict as a batch job"
    )
    predict.add_argument("-o", "--output", help="write the predictions (CSV) here")
    predict.add_argument("--probabilities", action="store_true", help="add class probabilities")
    predict.set_defaults(func=_run(cmd_predict))


def _guard(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return command(args)
    except ServiceError as exc:
        err.print(f"[red]error:[/red] {exc}")
        return 1
