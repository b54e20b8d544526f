"""Registry: logs a trained model with its params, metrics and artifacts to MLflow and registers
it (the reads are in reading.py).

The fluent ``mlflow`` API (needed by ``log_model``) uses the process-wide tracking URI set by
``connections.configure_mlflow``; everything else goes through the MlflowClient passed in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from modeltrain.exceptions import TrainingError
from modeltrain.logging import fields
from modeltrain.pipeline.final import notable
from modeltrain.registry import champion
from modeltrain.registry.champion import ChampionDecision, Judged
from modeltrain.registry.dataset import training_dataset
from modeltrain.registry.model_ids import version_id
from modeltrain.registry.reading import (
    PROFILE_ARTIFACT,
    STORED_CSV_DIR,
    STORED_CSV_NAME,
    TAG_TRACKING_ID,
    RegistryReader,
)
from modeltrain_model import families

if TYPE_CHECKING:
    from modeltrain.pipeline import TrainedModel

log = logging.getLogger(__name__)

CANDIDATE_LOG_THREADS = 8  # concurrent requests: the search's nested runs, the stored CSV
# Candidates logged as nested runs, best first: each costs three requests (~0.1 s of the
# server's time, measured); the leaderboard table artifact lists every one.
NESTED_RUNS = 50


def _pip_requirements(pipeline: Any) -> list[str]:
    """What a registered version needs to load and predict anywhere, beside the code it carries
    (``modeltrain_model``): the common packages and those of the families it holds, explicit
    because MLflow's own inference of requirements takes seconds per model."""
    from importlib.metadata import version

    held = pipeline.named_steps["model"].names or []
    return [f"{pkg}=={version(pkg)}" for pkg in families.requirements(held)]


@contextlib.contextmanager
def _shipped_code() -> Iterator[list[str]]:
    """The ``code_paths`` of every version: a copy of the ``modeltrain_model`` package (its
    sources only, no ``__pycache__``)."""
    import shutil

    import modeltrain_model

    with tempfile.TemporaryDirectory(prefix="modeltrain-code-") as tmp:
        target = os.path.join(tmp, "modeltrain_model")
        shutil.copytree(
            os.path.dirname(modeltrain_model.__file__),
            target,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        yield [target]


def _log_model(trained: TrainedModel) -> str:
    """Log the pipeline as the run's model, with its signature, example, requirements, the code
    it is made of and the types skops must trust; returns the logged model's URI."""
    signature = infer_signature(
        trained.input_example, trained.pipeline.predict(trained.input_example)
    )
    with _shipped_code() as code_paths:
        info = mlflow.sklearn.log_model(
            trained.pipeline,
            name="model",
            signature=signature,
            input_example=trained.input_example,
            pip_requirements=_pip_requirements(trained.pipeline),
            code_paths=code_paths,
            skops_trusted_types=families.trusted_types(),
        )
    return str(info.model_uri)


def _version_tags(trained: TrainedModel, job_id: str) -> dict[str, str]:
    """The job, and how the version was judged (what the champion rule compares)."""
    return {TAG_TRACKING_ID: job_id, **judged(trained).tags()}


def judged(trained: TrainedModel) -> Judged:
    """How a trained model was judged: its primary metric's held-out value, task, target and
    validation scheme."""
    metric = trained.primary_metric
    scheme = str(trained.validation.get("scheme", "random"))
    return Judged(metric, trained.metrics[metric], trained.task.value, trained.target, scheme)


class RegistrationGateError(TrainingError):
    """The registered version could not be loaded and used as inference will."""


def _same(got: np.ndarray, expected: np.ndarray) -> bool:
    if got.shape != expected.shape:
        return False
    if np.issubdtype(expected.dtype, np.number) and np.issubdtype(got.dtype, np.number):
        return bool(np.allclose(got, expected, rtol=1e-6, atol=1e-9, equal_nan=True))
    return bool((got.astype(str) == expected.astype(str)).all())


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str
    experiment_id: str | None = None

    @property
    def model_id(self) -> str:
        return version_id(self.name, self.version)


class Registry(RegistryReader):
    """Logging and registering, on top of the reads (registry/reading.py)."""

    def __init__(self, client: MlflowClient, experiment_name: str) -> None:
        super().__init__(client)
        self._experiment_name = experiment_name

    def experiment_id(self) -> str:
        experiment = self._client.get_experiment_by_name(self._experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self._client.create_experiment(self._experiment_name)
        except MlflowException:  # created by another worker in the meantime
            raced = self._client.get_experiment_by_name(self._experiment_name)
            if raced is None:
                raise
            return raced.experiment_id

    def find_version(self, model_name: str, job_id: str) -> RegisteredModel | None:
        """The version an earlier attempt of this job registered, if any."""
        found = self._client.search_model_versions(
            f"name='{model_name}' and tags.`{TAG_TRACKING_ID}` = '{job_id}'", max_results=1
        )
        if not found:
            return None
        return RegisteredModel(model_name, str(found[0].version), found[0].run_id or "")

    def fail_open_runs(self, job_id: str) -> int:
        """End the runs of earlier attempts of this job that were left RUNNING."""
        runs = self._client.search_runs(
            [self.experiment_id()],
            filter_string=(
                f"tags.`{TAG_TRACKING_ID}` = '{job_id}' and attributes.status = 'RUNNING'"
            ),
        )
        for run in runs:
            self._client.set_terminated(run.info.run_id, status="FAILED")
        return len(runs)

    def fail_orphan_runs(self, job_is_running: Callable[[str], bool]) -> list[str]:
        """End runs left RUNNING by jobs that are no longer running (e.g. MLflow was down
        when their job failed). Returns the ended run ids."""
        experiment = self._client.get_experiment_by_name(self._experiment_name)
        if experiment is None:
            return []
        ended = []
        for run in self._client.search_runs(
            [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'"
        ):
            job_id = run.data.tags.get(TAG_TRACKING_ID)
            if job_id and not job_is_running(job_id):
                self._client.set_terminated(run.info.run_id, status="FAILED")
                ended.append(run.info.run_id)
        return ended

    def log_and_register(
        self,
        trained: TrainedModel,
        *,
        model_name: str,
        job_id: str,
        filename: str,
        data: pd.DataFrame,
        raw_csv: bytes | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> RegisteredModel:
        """Log the run and register its model; exactly one version per job, also when the job
        is run again after its worker was lost."""
        existing = self.find_version(model_name, job_id)
        if existing is not None:
            log.info(
                "registry.model.reused", extra=fields(model=model_name, version=existing.version)
            )
            return existing
        started = time.monotonic()
        tags = {TAG_TRACKING_ID: job_id, "modeltrain.filename": filename}
        with (
            mlflow.start_run(
                experiment_id=self.experiment_id(), run_name=f"{model_name}-{job_id[:8]}", tags=tags
            ) as run,
            ThreadPoolExecutor(max_workers=CANDIDATE_LOG_THREADS) as pool,
        ):
            # Requests that need nothing of the rest go first, on threads of their own: the
            # nested runs (three requests each) and the stored CSV (25 MB at most) are sent
            # while the run's contents and the model are logged (1.5 s of 2.1 s after a
            # 1,000-row job's search when in turn, profiled).
            background = self._log_candidates(
                pool, trained, run.info.experiment_id, run.info.run_id, job_id
            )
            if raw_csv is not None:
                background.append(pool.submit(self._store_csv, run.info.run_id, raw_csv))
            self._log_run_contents(trained, data, filename)
            model_uri = _log_model(trained)
            for done in background:
                done.result()  # the first error, if any, fails the job
            if on_stage:
                on_stage("registering")
            version = mlflow.register_model(
                model_uri,
                model_name,
                await_registration_for=60,
                tags=_version_tags(trained, job_id),
            ).version
        log.info(
            "registry.model.registered",
            extra=fields(
                model=model_name, version=version, seconds=round(time.monotonic() - started, 3)
            ),
        )
        return RegisteredModel(model_name, str(version), run.info.run_id, run.info.experiment_id)

    def _log_candidates(
        self,
        pool: ThreadPoolExecutor,
        trained: TrainedModel,
        experiment_id: str,
        parent: str,
        job_id: str,
    ) -> list[Future[None]]:
        """A nested run per candidate of the search (params, validation score, fit time), the
        best NESTED_RUNS of them, logged concurrently on ``pool``."""
        metric = trained.primary_metric
        now = int(time.time() * 1000)

        def log_one(row: dict[str, Any]) -> None:
            name = f"{row['estimator']}-{row['trial']}" if row["trial"] is not None else "ensemble"
            run = self._client.create_run(
                experiment_id,
                run_name=name,
                tags={  # the job's tag too: a half-logged job's runs are ended by its retry
                    "mlflow.parentRunId": parent,
                    "modeltrain.candidate": row["estimator"],
                    TAG_TRACKING_ID: job_id,
                },
            )
            skip = {"trial", "estimator", metric, "fitSeconds", "error", "role", "familyBest"}
            params = [Param(k, str(v)[:6000]) for k, v in row.items() if k not in skip]
            metrics = [Metric("fit_seconds", float(row.get("fitSeconds") or 0.0), now, 0)]
            if row.get(metric) is not None:
                metrics.append(Metric(f"validation_{metric}", float(row[metric]), now, 0))
            self._client.log_batch(run.info.run_id, metrics=metrics, params=params)
            status = "FAILED" if row.get("error") else "FINISHED"
            self._client.set_terminated(run.info.run_id, status=status)

        return [pool.submit(log_one, row) for row in notable(trained.leaderboard, NESTED_RUNS)]

    def _store_csv(self, run_id: str, raw_csv: bytes) -> None:
        """The uploaded bytes, kept with the run for retraining (Registry.stored_csv)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, STORED_CSV_NAME)
            with open(path, "wb") as fh:
                fh.write(raw_csv)
            self._client.log_artifact(run_id, path, artifact_path=STORED_CSV_DIR)

    def _log_run_contents(self, trained: TrainedModel, data: pd.DataFrame, filename: str) -> None:
        mlflow.log_params(
            {
                "task": trained.task.value,
                "target": trained.target,
                "estimator": trained.estimator,
                "rows": trained.rows,
                "columns": trained.columns,
                "primaryMetric": trained.primary_metric,
                "positiveClass": trained.positive_class,
                "decisionThreshold": trained.decision_threshold,
                **{f"validation.{k}": v for k, v in trained.validation.items()},
                **{f"model.{k}": v for k, v in trained.params.items()},
                **{f"search.{k}": v for k, v in trained.search.items()},
            }
        )
        mlflow.log_metrics({f"holdout_{k}": v for k, v in trained.metrics.items()})
        mlflow.log_metric("train_seconds", trained.train_seconds)
        mlflow.log_dict(
            {"leaderboard": trained.leaderboard, "droppedColumns": trained.dropped_columns},
            "report/training.json",
        )
        mlflow.log_table(pd.DataFrame(trained.leaderboard), "report/leaderboard.json")
        mlflow.log_dict(trained.guardrails, "report/guardrails.json")
        if trained.importance:
            mlflow.log_dict(trained.importance, "report/feature_importance.json")
        if trained.explanations:
            mlflow.log_dict(trained.explanations, "report/mean_contributions.json")
        if trained.profile:
            mlflow.log_dict(trained.profile, PROFILE_ARTIFACT)
        from modeltrain.registry import plots  # matplotlib: only where models are logged

        figures = plots.plots(
            trained.task, trained.holdout, trained.importance, trained.explanations
        )
        try:
            for name, figure in figures.items():
                mlflow.log_figure(figure, f"plots/{name}.png")
        finally:
            plots.close(figures)
        mlflow.log_input(training_dataset(data, filename, trained.target), context="training")

    # --- after registration ---------------------------------------------------------------
    def verify(
        self, registered: RegisteredModel, example: pd.DataFrame, expected: np.ndarray
    ) -> None:
        """The registration gate: load the version through `models:/` exactly as inference
        will and predict the input example; any error or difference fails the job (and the
        version is deleted, so that nobody serves it)."""
        try:
            model = mlflow.pyfunc.load_model(registered.model_id, suppress_warnings=True)
            got = np.asarray(model.predict(example))
            problem = None if _same(got, np.asarray(expected)) else (
                "it predicts differently after being reloaded from the registry"
            )  # fmt: skip
        except Exception as exc:  # whatever stops loading or predicting is the gate's finding
            problem = f"it cannot be loaded and used: {type(exc).__name__}: {exc}"
        if problem is None:
            return
        with contextlib.suppress(MlflowException):
            self._client.delete_model_version(registered.name, registered.version)
        raise RegistrationGateError(
            f"registration gate: {registered.model_id} was rejected because {problem}"[:2000]
        )

    def promote_if_better(self, registered: RegisteredModel, judged: Judged) -> ChampionDecision:
        """Make the version `@champion` of its name when it beats the current champion, judged
        the same way, in the primary metric's direction, unless the champion was set by hand
        (see champion.py)."""
        return champion.promote_if_better(self._client, registered.name, registered.version, judged)
