"""The model families tried, each fitted on a training split within a time budget."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from modeltrain.constants import Task
from modeltrain.pipeline.features import ColumnPlan, linear_preprocessor, tree_preprocessor

MAX_BOOSTING_ROUNDS = 2000
EARLY_STOPPING_ROUNDS = 50


@dataclass
class Candidate:
    name: str
    pipeline: Pipeline
    params: dict[str, Any]
    fit_seconds: float


def _deadline_callback(deadline: float, should_stop: Callable[[], bool] | None):
    """Stop boosting when the time budget is spent (or the job must stop); the best iteration
    so far is kept."""

    def _callback(env: lgb.callback.CallbackEnv) -> None:
        if time.monotonic() > deadline or (should_stop is not None and should_stop()):
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    _callback.order = 40  # type: ignore[attr-defined]
    return _callback


def fit_lightgbm(
    X: pd.DataFrame,
    y: pd.Series,
    task: Task,
    plan: ColumnPlan,
    deadline: float,
    threads: int,
    should_stop: Callable[[], bool] | None = None,
) -> Candidate:
    """LightGBM with early stopping on an inner validation split; keeps the best round count."""
    started = time.monotonic()
    stratify = y if task == Task.CLASSIFICATION and y.value_counts().min() >= 2 else None
    X_fit, X_val, y_fit, y_val = train_test_split(
        X, y, test_size=0.15, random_state=0, stratify=stratify
    )
    params: dict[str, Any] = {
        "n_estimators": MAX_BOOSTING_ROUNDS,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": max(2, min(20, len(X) // 50)),
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": 0,
        "n_jobs": threads or -1,
        "verbose": -1,
    }
    model_cls = lgb.LGBMClassifier if task == Task.CLASSIFICATION else lgb.LGBMRegressor
    pre = tree_preprocessor(plan)
    Xf = pre.fit_transform(X_fit)
    Xv = pre.transform(X_val)
    cat_idx = list(range(len(plan.numeric), len(plan.used)))
    model = model_cls(**params)
    with warnings.catch_warnings():
        # eval_X/eval_y, eval_set's successor, does not encode string class labels in 4.7.
        warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
        model.fit(
            Xf,
            y_fit,
            eval_set=[(Xv, y_val)],
            categorical_feature=cat_idx or "auto",
            callbacks=[
                lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False),
                _deadline_callback(deadline, should_stop),
            ],
        )
    params["n_estimators"] = max(1, int(model.best_iteration_ or model.n_estimators_))
    # The fitted parts make the candidate that is scored on held-out rows (it predicts with its
    # best iteration); refit() trains the winner again, on all rows, with that many rounds.
    pipeline = Pipeline([("preprocess", pre), ("model", model)])
    return Candidate("lightgbm", pipeline, params, time.monotonic() - started)


def fit_linear(X: pd.DataFrame, y: pd.Series, task: Task, plan: ColumnPlan) -> Candidate:
    started = time.monotonic()
    if task == Task.CLASSIFICATION:
        model, params = LogisticRegression(max_iter=1000, C=1.0), {"C": 1.0}
    else:
        model, params = Ridge(alpha=1.0), {"alpha": 1.0}
    pipeline = Pipeline([("preprocess", linear_preprocessor(plan)), ("model", model)])
    pipeline.fit(X, y)
    name = "logistic_regression" if task == Task.CLASSIFICATION else "ridge"
    return Candidate(name, pipeline, params, time.monotonic() - started)


def refit(candidate: Candidate, X: pd.DataFrame, y: pd.Series, plan: ColumnPlan) -> Pipeline:
    """The same candidate fitted on all rows (its tuned round count kept)."""
    from sklearn.base import clone

    pipeline = clone(candidate.pipeline)
    if candidate.name == "lightgbm":
        pipeline.set_params(**{f"model__{k}": v for k, v in candidate.params.items()})
        cat_idx = list(range(len(plan.numeric), len(plan.used)))
        pipeline.fit(X, y, model__categorical_feature=cat_idx or "auto")
    else:
        pipeline.fit(X, y)
    return pipeline
