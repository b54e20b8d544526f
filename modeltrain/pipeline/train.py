"""train(): the whole training pipeline on a DataFrame."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from modeltrain.constants import Stage, Task
from modeltrain.exceptions import TrainingError
from modeltrain.pipeline import candidates as cands
from modeltrain.pipeline.features import normalise_features, plan_columns
from modeltrain.pipeline.guardrails import build_report
from modeltrain.pipeline.metrics import (
    classification_metrics,
    primary_metric,
    regression_metrics,
)
from modeltrain.pipeline.tasks import clean_target, detect_task

# progress(stage, percent, **details): details are `bestScore` (the primary metric of the best
# candidate so far) and `etaSeconds` (time left in the search budget).
ProgressFn = Callable[..., None]
HOLDOUT_SHARE = 0.2
IMPORTANCE_ROWS = 1000  # held-out rows used for permutation importance


@dataclass(frozen=True)
class TrainOptions:
    target: str | None = None
    task: Task = Task.AUTO
    time_budget: float = 60.0  # seconds
    threads: int = 0  # 0 = all cores
    should_stop: Callable[[], bool] | None = None  # end the search now? (asked between rounds)


@dataclass
class TrainedModel:
    pipeline: Pipeline
    task: Task
    target: str
    features: list[str]
    metrics: dict[str, float]
    primary_metric: str
    estimator: str
    params: dict[str, Any]
    leaderboard: list[dict[str, Any]]
    dropped_columns: dict[str, str]
    rows: int
    columns: int
    classes: list[Any] | None
    input_example: pd.DataFrame
    train_seconds: float
    guardrails: dict[str, Any] = field(default_factory=dict)
    holdout: dict[str, Any] = field(default_factory=dict)  # y_true, y_pred, proba of the winner
    importance: dict[str, float] = field(default_factory=dict)  # permutation importance


def _noop(stage: Stage, progress: int, **details: Any) -> None:
    return None


def _split(X: pd.DataFrame, y: pd.Series, task: Task):
    stratify = None
    if task == Task.CLASSIFICATION and y.value_counts().min() >= 2:
        stratify = y
    return train_test_split(X, y, test_size=HOLDOUT_SHARE, random_state=0, stratify=stratify)


def _evaluate(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task) -> dict[str, float]:
    pred = pipeline.predict(X)
    if task == Task.REGRESSION:
        return regression_metrics(y, pred)
    proba = pipeline.predict_proba(X) if hasattr(pipeline, "predict_proba") else None
    return classification_metrics(y, pred, proba, list(pipeline.classes_))


def train(df: pd.DataFrame, options: TrainOptions, progress: ProgressFn = _noop) -> TrainedModel:
    started = time.monotonic()
    deadline = started + options.time_budget
    target = options.target or str(df.columns[-1])
    if target not in df.columns:
        raise TrainingError(f"target column {target!r} is not in the data")
    progress(Stage.PROFILING, 12)
    task = detect_task(df[target], options.task)
    df = clean_target(df, target, task)
    X = normalise_features(df.drop(columns=[target]))
    y = df[target]
    if task == Task.CLASSIFICATION and not pd.api.types.is_bool_dtype(y):
        y = y.astype(str) if not pd.api.types.is_numeric_dtype(y) else y
    plan = plan_columns(X)
    if not plan.used:
        raise TrainingError(
            "no usable feature columns: " + "; ".join(f"{c}: {r}" for c, r in plan.dropped.items())
        )
    X = X[plan.used]
    report = build_report(df, target, task, X, y, plan)
    X_train, X_test, y_train, y_test = _split(X, y, task)
    metric = primary_metric(task)
    progress(Stage.TRAINING, 15, etaSeconds=round(options.time_budget, 1))

    fitted: list[tuple[cands.Candidate, dict[str, float]]] = []
    for step, fit in enumerate(
        (
            lambda: cands.fit_linear(X_train, y_train, task, plan),
            lambda: cands.fit_lightgbm(
                X_train, y_train, task, plan, deadline, options.threads, options.should_stop
            ),
        )
    ):
        if fitted and (
            time.monotonic() > deadline or (options.should_stop and options.should_stop())
        ):
            break  # out of time, or asked to finish: keep the best so far
        candidate = fit()
        fitted.append((candidate, _evaluate(candidate.pipeline, X_test, y_test, task)))
        best_so_far = max(m[metric] for _, m in fitted)
        progress(
            Stage.TRAINING,
            15 + int(60 * (step + 1) / 2),
            bestScore=round(best_so_far, 6),
            etaSeconds=round(max(0.0, deadline - time.monotonic()), 1),
        )

    progress(Stage.EVALUATING, 80)
    fitted.sort(key=lambda pair: pair[1][metric], reverse=True)
    best, best_metrics = fitted[0]
    holdout = _holdout(best.pipeline, X_test, y_test, task)
    importance = _importance(best, X_test, y_test, task)
    final = cands.refit(best, X, y, plan)
    if best.name == "lightgbm":
        # One thread per predict: on small batches LightGBM's thread pool costs more than it saves.
        final.set_params(model__n_jobs=1)
    leaderboard = [
        {"estimator": c.name, metric: m[metric], "fitSeconds": round(c.fit_seconds, 3), **c.params}
        for c, m in fitted
    ]
    return TrainedModel(
        pipeline=final,
        task=task,
        target=target,
        features=list(X.columns),
        metrics=best_metrics,
        primary_metric=metric,
        estimator=best.name,
        params=best.params,
        leaderboard=leaderboard,
        dropped_columns=plan.dropped,
        rows=int(len(df)),
        columns=int(df.shape[1]),
        classes=[_plain(c) for c in final.classes_] if task == Task.CLASSIFICATION else None,
        input_example=X.head(5),
        train_seconds=time.monotonic() - started,
        guardrails=report,
        holdout=holdout,
        importance=importance,
    )


def _holdout(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task) -> dict[str, Any]:
    out: dict[str, Any] = {"y_true": y.to_numpy(), "y_pred": pipeline.predict(X)}
    if task == Task.CLASSIFICATION and hasattr(pipeline, "predict_proba"):
        out["proba"] = pipeline.predict_proba(X)
        out["classes"] = list(pipeline.classes_)
    return out


def _importance(
    candidate: cands.Candidate, X: pd.DataFrame, y: pd.Series, task: Task
) -> dict[str, float]:
    """How much each raw column matters, as shares that sum to 1: LightGBM's gain (free: one
    model column per raw column), else permutation importance on a sample of held-out rows
    (on large tree ensembles that costs seconds, measured)."""
    pipeline = candidate.pipeline
    if candidate.name == "lightgbm":
        gains = pipeline.named_steps["model"].booster_.feature_importance("gain")
        return _shares(dict(zip(X.columns, gains, strict=True)))
    sample = X.sample(n=min(len(X), IMPORTANCE_ROWS), random_state=0)
    scoring = "r2" if task == Task.REGRESSION else "balanced_accuracy"
    try:
        result = permutation_importance(
            pipeline, sample, y.loc[sample.index], scoring=scoring, n_repeats=3, random_state=0
        )
    except ValueError:  # e.g. a class missing from the sample: no importance, not a failure
        return {}
    return _shares(dict(zip(X.columns, result.importances_mean, strict=True)))


def _shares(values: dict[str, float]) -> dict[str, float]:
    clipped = {str(k): max(0.0, float(v)) for k, v in values.items()}
    total = sum(clipped.values()) or 1.0
    pairs = sorted(clipped.items(), key=lambda p: -p[1])
    return {name: round(value / total, 6) for name, value in pairs}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
