"""A worker process's warm-up: what the first job of a fresh worker paid and the second did
not (imports of the model families, Optuna and SHAP, their first fits, matplotlib's fonts and
first PNG, MLflow's model flavour, saving and loading a model, the experiment's lookup), done
once when the process starts, on a thread, so that the first job is no slower than the next.

A job that arrives during the warm-up waits for it (``WarmUp.wait``) before it is claimed:
the two never run at once."""

from __future__ import annotations

import io
import logging
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

from modeltrain.logging import fields
from modeltrain.worker.context import WorkerContext

log = logging.getLogger(__name__)

WARM_UP_BUDGET = 1.0  # seconds of search on the warm-up's own small frame
WARM_UP_WAIT = 60.0  # seconds a job waits for an unfinished warm-up at most


def _frame(rows: int = 120) -> pd.DataFrame:
    """Numbers, a category and a date, as an uploaded CSV has them."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "kind": rng.choice(["a", "b", "c"], size=rows),
            "day": pd.date_range("2024-01-01", periods=rows).strftime("%Y-%m-%d"),
        }
    )
    frame["y"] = np.where(frame["x"] + (frame["kind"] == "a") > 0.3, "yes", "no")
    return frame


def warm_up(ctx: WorkerContext) -> None:
    import tempfile

    import mlflow.sklearn
    from mlflow.models import infer_signature

    from modeltrain.pipeline.train import TrainOptions, train
    from modeltrain.registry import plots
    from modeltrain_model import families
    from modeltrain_model.explain import explain

    frame = _frame()
    trained = train(frame, TrainOptions(target="y", time_budget=WARM_UP_BUDGET, threads=1))
    # Every family once, whichever the search kept: their first fit, their first tree SHAP
    # (numba compiles it), their first skops serialisation.
    X = frame.drop(columns=["y"])
    everything = _every_family(trained.pipeline.named_steps["features"], X, frame["y"] == "yes")
    explain(everything, X.head(8), list(X.columns))
    signature = infer_signature(X.head(5), everything.predict(X.head(5)))
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.sklearn.save_model(
            everything,
            f"{tmp}/model",
            signature=signature,
            pip_requirements=[],
            skops_trusted_types=families.trusted_types(),
        )
        # The registration gate's load and predict (Registry.verify): pyfunc's loader, skops.
        mlflow.pyfunc.load_model(f"{tmp}/model", suppress_warnings=True).predict(X.head(5))
    figures = plots.plots(trained.task, trained.holdout, trained.importance, trained.explanations)
    try:
        for figure in figures.values():
            figure.savefig(io.BytesIO(), format="png")
    finally:
        plots.close(figures)
    ctx.registry.experiment_id()


def _every_family(featurizer: Any, X: pd.DataFrame, yes: pd.Series) -> Any:
    """A pipeline whose ensemble has one default member of every family."""
    import math

    from sklearn.pipeline import Pipeline

    from modeltrain.constants import Task
    from modeltrain_model import families
    from modeltrain_model.ensemble import Ensemble

    M, y = featurizer.transform(X), yes.to_numpy(dtype=int)
    task = Task.CLASSIFICATION
    ctx = families.FitContext(task, featurizer.categorical_indices_, 1, math.inf)
    space, names = families.Space(len(y)), families.names()
    members = [
        family.fit(family.defaults(task, space, M.shape[1]), ctx, M, y)[0]
        for family in families.all_families()
    ]
    ensemble = Ensemble(members=members, weights=[1.0] * len(members),
                        names=list(names), task=task.value,
                        classes=["no", "yes"], log_target=[False] * len(members))  # fmt: skip
    return Pipeline([("features", featurizer), ("model", ensemble)])


class WarmUp:
    """Runs ``warm_up`` on a thread of its own; a failed warm-up is logged and costs nothing
    but the first job's speed."""

    def __init__(self, ctx: WorkerContext) -> None:
        self._done = threading.Event()
        self.failed = False
        self._thread = threading.Thread(target=self._run, args=(ctx,), name="warm-up", daemon=True)
        self._thread.start()

    def _run(self, ctx: WorkerContext) -> None:
        started = time.monotonic()
        try:
            warm_up(ctx)
            log.info("worker.warmed_up", extra=fields(seconds=round(time.monotonic() - started, 2)))
        except Exception as exc:
            self.failed = True
            log.warning("worker.warm_up_failed", extra=fields(error=f"{type(exc).__name__}: {exc}"))
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float = WARM_UP_WAIT) -> None:
        self._done.wait(timeout)
