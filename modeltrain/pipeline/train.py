"""train(): the whole training pipeline on a DataFrame."""

from __future__ import annotations

import math
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
from modeltrain.pipeline import families
from modeltrain.pipeline.ensemble import Ensemble, select_weights
from modeltrain.pipeline.features import normalise_features, plan_columns
from modeltrain.pipeline.featurizer import Featurizer
from modeltrain.pipeline.guardrails import build_report
from modeltrain.pipeline.metrics import (
    classification_metrics,
    output_score,
    primary_metric,
    regression_metrics,
)
from modeltrain.pipeline.search import SearchResult, Trial, search
from modeltrain.pipeline.tasks import clean_target, detect_task

# progress(stage, percent, **details): details are `bestScore` (the primary metric of the best
# candidate so far) and `etaSeconds` (time left in the search budget).
ProgressFn = Callable[..., None]
HOLDOUT_SHARE = 0.2
IMPORTANCE_ROWS = 500  # held-out rows used for permutation importance
MIN_ENSEMBLE_GAIN = 1e-4  # validation score an ensemble must add over the best single model
# Refitting on all rows (holdout included) may end the job this far past its budget:
# seconds, or a share of the budget when that is more.
REFIT_GRACE, REFIT_GRACE_SHARE = 1.0, 0.05


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
    search: dict[str, Any] = field(default_factory=dict)  # validation scheme, trials, refit


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
    classes = np.unique(y.to_numpy()) if task == Task.CLASSIFICATION else None
    featurizer = Featurizer(plan.numeric, plan.categorical, plan.datetime, plan.text).fit(X_train)
    M_train = featurizer.transform(X_train)
    metric = primary_metric(task)
    progress(Stage.TRAINING, 15, etaSeconds=round(options.time_budget, 1))

    def on_progress(best: Trial | None) -> None:
        spent = (time.monotonic() - started) / max(options.time_budget, 1e-9)
        details: dict[str, Any] = {"etaSeconds": round(max(0.0, deadline - time.monotonic()), 1)}
        if best is not None:
            details["bestScore"] = round(best.score, 6)
        progress(Stage.TRAINING, 15 + int(60 * min(1.0, spent)), **details)

    found = search(
        M_train,
        _encode(y_train, classes),
        task,
        featurizer.categorical_indices_,
        deadline,
        options.threads,
        options.should_stop,
        on_progress,
    )
    if not found.ranked:
        errors = "; ".join(sorted({t.error for t in found.trials if t.error}))
        raise TrainingError(f"no model could be fitted on this data: {errors or 'no time'}"[:1000])
    progress(Stage.EVALUATING, 80)
    picked, ensemble_score = choose(found, _encode(y_train, classes), task, classes)
    fitted = fit_members(picked, M_train, _encode(y_train, classes), task, featurizer, options)
    pipeline = Pipeline([("features", featurizer), ("model", _ensemble(fitted, task, classes))])
    best_metrics = _evaluate(pipeline, X_test, y_test, task)
    holdout = _holdout(pipeline, X_test, y_test, task)
    importance = _importance(pipeline, X_test, y_test, task)
    refit_seconds = sum(member.fit_seconds for member in fitted)
    grace = max(REFIT_GRACE, REFIT_GRACE_SHARE * options.time_budget)
    refit_all = time.monotonic() + refit_seconds / (1 - HOLDOUT_SHARE) <= deadline + grace
    if refit_all:  # the holdout rows join the training rows for the registered model
        fitted = fit_members(picked, featurizer.transform(X), _encode(y, classes), task,
                             featurizer, options)  # fmt: skip
        pipeline = Pipeline([("features", featurizer), ("model", _ensemble(fitted, task, classes))])
    leaderboard = [t.leaderboard_row(task, metric) for t in found.ranked] + [
        t.leaderboard_row(task, metric) for t in found.trials if t.error
    ]
    estimator = picked[0][0].family if len(picked) == 1 else "ensemble"
    if estimator != "ensemble":
        estimator = families.family_name(estimator, task)
    else:
        row = {"trial": None, "estimator": "ensemble", metric: round(ensemble_score, 6)}
        leaderboard.insert(0, {**row, "members": _members(picked, task)})
    params = (
        dict(picked[0][0].leaderboard_row(task, metric))
        if len(picked) == 1
        else {"members": _members(picked, task)}
    )
    for key in ("trial", "estimator", metric, "fitSeconds"):
        params.pop(key, None)
    return TrainedModel(
        pipeline=pipeline,
        task=task,
        target=target,
        features=list(X.columns),
        metrics=best_metrics,
        primary_metric=metric,
        estimator=estimator,
        params=params,
        leaderboard=leaderboard,
        dropped_columns=plan.dropped,
        rows=int(len(df)),
        columns=int(df.shape[1]),
        classes=[_plain(c) for c in classes] if classes is not None else None,
        input_example=X.head(5),
        train_seconds=time.monotonic() - started,
        guardrails={**report, "columnTypes": plan.kinds()},
        holdout=holdout,
        importance=importance,
        search={
            "validation": found.validation,
            "trials": len(found.trials),
            "stoppedEarly": found.stopped_early,
            "validationScore": round(ensemble_score, 6),
            "refitOnAllRows": refit_all,
        },
    )


def _encode(y: pd.Series, classes: np.ndarray | None) -> np.ndarray:
    """Targets as the families fit them: class positions 0..k-1, or floats."""
    if classes is None:
        return y.to_numpy(dtype="float64")
    return np.searchsorted(classes, y.to_numpy()).astype("int64")


def choose(
    found: SearchResult, y: np.ndarray, task: Task, classes: np.ndarray | None
) -> tuple[list[tuple[Trial, int]], float]:
    """The best trial alone, or a greedy ensemble of the best trials when its validation score
    is higher. Returns (trial, weight) pairs and the validation score."""
    pool = [t for t in found.ranked if t.output is not None]
    n_classes = len(classes) if classes is not None else 0
    y_cov = y[found.covered]
    counts, score = select_weights(
        [t.output for t in pool], y_cov, lambda yy, out: output_score(task, yy, out, n_classes)
    )
    picked = [(t, c) for t, c in zip(pool, counts, strict=True) if c > 0]
    if len(picked) == 1 or score <= pool[0].score + MIN_ENSEMBLE_GAIN:
        return [(pool[0], 1)], pool[0].score
    return picked, score


@dataclass
class FittedMember:
    trial: Trial
    weight: int
    model: Any
    fit_seconds: float


def fit_members(
    picked: list[tuple[Trial, int]],
    M: np.ndarray,
    y: np.ndarray,
    task: Task,
    featurizer: Featurizer,
    options: TrainOptions,
) -> list[FittedMember]:
    """The chosen configurations fitted on all the rows given (no early stopping: LightGBM
    uses the rounds its validation found)."""
    ctx = families.FitContext(task, featurizer.categorical_indices_, options.threads, math.inf)
    out = []
    for trial, weight in picked:
        params = dict(trial.params)
        if trial.rounds is not None:
            params["n_estimators"] = max(1, trial.rounds)
        started = time.monotonic()
        target = np.log1p(y) if trial.log_target else y
        model, _ = families.fit(trial.family, params, ctx, M, target)
        _single_threaded(model)
        out.append(FittedMember(trial, weight, model, time.monotonic() - started))
    return out


def _single_threaded(model: Any) -> None:
    """One thread per predict: on the small batches of a prediction service a thread pool costs
    more than it saves (LightGBM: ~8 ms vs ~1 ms per row, measured)."""
    if "n_jobs" in model.get_params():
        model.set_params(n_jobs=1)


def _ensemble(fitted: list[FittedMember], task: Task, classes: np.ndarray | None) -> Ensemble:
    return Ensemble(
        members=[m.model for m in fitted],
        weights=[float(m.weight) for m in fitted],
        names=[families.family_name(m.trial.family, task) for m in fitted],
        task=task.value,
        classes=[_plain(c) for c in classes] if classes is not None else None,
        log_target=[m.trial.log_target for m in fitted],
    )


def _members(picked: list[tuple[Trial, int]], task: Task) -> str:
    return ", ".join(f"{families.family_name(t.family, task)}#{t.number}×{w}" for t, w in picked)


def _holdout(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task) -> dict[str, Any]:
    out: dict[str, Any] = {"y_true": y.to_numpy(), "y_pred": pipeline.predict(X)}
    if task == Task.CLASSIFICATION and hasattr(pipeline, "predict_proba"):
        out["proba"] = pipeline.predict_proba(X)
        out["classes"] = list(pipeline.classes_)
    return out


def _importance(pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task) -> dict[str, float]:
    """How much each raw column matters, as shares that sum to 1: LightGBM's gain when the model
    is one LightGBM (free), else permutation importance on a sample of held-out rows."""
    model: Ensemble = pipeline.named_steps["model"]
    featurizer: Featurizer = pipeline.named_steps["features"]
    booster = getattr(model.members[0], "booster_", None) if len(model.members) == 1 else None
    if booster is not None:
        gains: dict[str, float] = {}
        for source, gain in zip(
            featurizer.feature_sources_, booster.feature_importance("gain"), strict=True
        ):
            gains[source] = gains.get(source, 0.0) + float(gain)
        return _shares(gains)
    sample = X.sample(n=min(len(X), IMPORTANCE_ROWS), random_state=0)
    scoring = "r2" if task == Task.REGRESSION else "balanced_accuracy"
    try:
        result = permutation_importance(
            pipeline, sample, y.loc[sample.index], scoring=scoring, n_repeats=2, random_state=0
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
