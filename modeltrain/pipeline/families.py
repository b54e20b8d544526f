"""The model families searched, their hyperparameter spaces, and fitting one configuration.

Every family fits on the featurizer's float matrix (NaN for missing values, categories as
integer codes whose positions are `categorical`). Classification targets arrive encoded as
0..k-1, so every family's probabilities line up with the same classes."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from modeltrain.constants import FAMILIES as FAMILIES  # re-exported
from modeltrain.constants import Task
from modeltrain_model.linear_encoder import LinearEncoder

MAX_BOOSTING_ROUNDS = 3000
EARLY_STOPPING_ROUNDS = 50
# Forests are searched up to this many training rows: above it they fit, load and predict
# slowly (fully grown trees of tens of thousands of leaves: a 100 MB model, seconds to load,
# measured on diamonds) and gradient boosting wins anyway.
FOREST_MAX_ROWS = 20_000
FOREST_LEAF_ROWS = 2_000  # a forest's smallest leaf holds at least rows / this many rows
# LightGBM's ways with category codes: its own categorical splits, or the codes as ordered
# numbers (featurizer: the values' order), which overfit less on many rare categories.
CATEGORY_SPLITS = ("native", "ordinal")
OBJECTIVES = ("regression", "poisson")  # LightGBM's, for a non-negative skewed target
# Up to this many training rows LightGBM may also draw each split's threshold at random
# (`extra_trees`): on small noisy data the randomised trees overfit less (AutoGluon's
# LightGBMXT), and above it the best thresholds win.
RANDOM_SPLITS_MAX_ROWS = 5_000


def families_for(rows: int, only: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The families searched on data of this many training rows, cheap defaults first; `only`
    (a job's `families` option) narrows them, and a forest asked for by name is searched
    whatever the rows."""
    if only is not None:
        return tuple(f for f in FAMILIES if f in only)
    return FAMILIES if rows <= FOREST_MAX_ROWS else ("linear", "lightgbm")


TICK_SECONDS = 1.0
# Errors a configuration may raise while fitting: that trial fails, the search goes on.
FIT_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError, lgb.basic.LightGBMError)


@dataclass
class FitContext:
    task: Task
    categorical: list[int]  # column positions holding category codes
    threads: int  # 0 = all cores
    deadline: float  # time.monotonic() after which boosting stops
    should_stop: Callable[[], bool] | None = None
    tick: Callable[[], None] | None = None  # called about every TICK_SECONDS while boosting


def family_name(family: str, task: Task) -> str:
    """The estimator's name shown in leaderboards."""
    if family == "linear":
        return "logistic_regression" if task == Task.CLASSIFICATION else "ridge"
    return family


def default_params(family: str, task: Task, rows: int, columns: int = 1) -> dict[str, Any]:
    """A sensible first configuration of each family (tried before the search proper); forests
    start from scikit-learn's own defaults of features per split (√columns for classes, all
    for regression)."""
    if family == "lightgbm":
        return {
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_child_samples": max(2, min(20, rows // 50)),
            "colsample_bytree": 0.8,
            "subsample": 0.8,
            "reg_lambda": 1e-3,
        }
    if family == "linear":
        return {"C": 1.0} if task == Task.CLASSIFICATION else {"alpha": 1.0}
    share = min(1.0, max(0.1, columns**0.5 / columns)) if task == Task.CLASSIFICATION else 1.0
    return {"n_estimators": 100, "max_features": share, "min_samples_leaf": _min_leaf(rows)}


@dataclass(frozen=True)
class Space:
    """What the data opens up in the search space: category columns (LightGBM may split their
    codes natively or as ordered numbers), a non-negative skewed target (LightGBM may fit a
    Poisson objective: a log link predicting the mean, where a model of log1p(y) predicts
    less, measured on medpar's lengths of stay)."""

    rows: int
    categorical: bool = False
    count_like: bool = False


def suggest_params(trial: optuna.Trial, family: str, task: Task, space: Space) -> dict[str, Any]:
    """One configuration of the family drawn by the sampler (names prefixed by family, as the
    search space is conditional on it)."""
    p, rows = f"{family}.", space.rows
    if family == "lightgbm":
        params: dict[str, Any] = {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int(p + "num_leaves", 4, 256, log=True),
            "min_child_samples": trial.suggest_int(
                p + "min_child_samples", 2, max(3, min(100, rows // 10)), log=True
            ),
            "colsample_bytree": trial.suggest_float(p + "colsample_bytree", 0.3, 1.0),
            "subsample": trial.suggest_float(p + "subsample", 0.5, 1.0),
            "reg_lambda": trial.suggest_float(p + "reg_lambda", 1e-3, 10.0, log=True),
        }
        if rows <= RANDOM_SPLITS_MAX_ROWS:
            params["extra_trees"] = trial.suggest_categorical(p + "extra_trees", [False, True])
        if space.categorical:
            params["categorical"] = trial.suggest_categorical(p + "categorical", CATEGORY_SPLITS)
        if space.count_like:
            params["objective"] = trial.suggest_categorical(p + "objective", OBJECTIVES)
        return params
    if family == "linear":
        if task == Task.CLASSIFICATION:
            return {"C": trial.suggest_float(p + "C", 1e-3, 100.0, log=True)}
        return {"alpha": trial.suggest_float(p + "alpha", 1e-3, 1000.0, log=True)}
    return {
        "n_estimators": trial.suggest_int(p + "n_estimators", 50, 300, log=True),
        "max_features": trial.suggest_float(p + "max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int(
            p + "min_samples_leaf", _min_leaf(rows), _min_leaf(rows) * 20, log=True
        ),
    }


def work(family: str, params: dict[str, Any]) -> float:
    """What fitting this configuration costs relative to others of its family: a forest's
    trees times the share of features each split weighs (a forest of 300 trees on every
    feature took three times the last one of 100 on half of them, and overran the search);
    1 for the others (LightGBM stops boosting at its deadline, a linear model is quick)."""
    if family in ("extra_trees", "random_forest"):
        return float(params.get("n_estimators", 100)) * float(params.get("max_features", 1.0))
    return 1.0


def _min_leaf(rows: int) -> int:
    return max(1, rows // FOREST_LEAF_ROWS)


def _deadline_callback(ctx: FitContext):
    """Stop boosting when the time budget is spent (or the job must stop); the best iteration
    so far is kept. Reports progress on the way (a fit may last most of the budget)."""
    last_tick = [time.monotonic()]

    def _callback(env: lgb.callback.CallbackEnv) -> None:
        now = time.monotonic()
        if now > ctx.deadline or (ctx.should_stop is not None and ctx.should_stop()):
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])
        if ctx.tick is not None and now - last_tick[0] >= TICK_SECONDS:
            last_tick[0] = now
            ctx.tick()

    _callback.order = 40  # type: ignore[attr-defined]
    return _callback


def make_estimator(family: str, params: dict[str, Any], ctx: FitContext, columns: int) -> Any:
    jobs = ctx.threads or -1
    classify = ctx.task == Task.CLASSIFICATION
    if family == "lightgbm":
        cls = lgb.LGBMClassifier if classify else lgb.LGBMRegressor
        return cls(
            n_estimators=params.get("n_estimators", MAX_BOOSTING_ROUNDS),
            subsample_freq=1,
            random_state=0,
            n_jobs=jobs,
            verbose=-1,
            **{k: v for k, v in params.items() if k not in ("n_estimators", "categorical")},
        )
    if family == "linear":
        model = (
            LogisticRegression(max_iter=500, C=params["C"], class_weight=params.get("class_weight"))
            if classify
            else Ridge(alpha=params["alpha"])
        )
        return Pipeline([("prep", LinearEncoder(ctx.categorical)), ("model", model)])
    forest = {
        ("random_forest", True): RandomForestClassifier,
        ("random_forest", False): RandomForestRegressor,
        ("extra_trees", True): ExtraTreesClassifier,
        ("extra_trees", False): ExtraTreesRegressor,
    }[(family, classify)]
    return forest(n_jobs=jobs, random_state=0, **params)


def fit(
    family: str,
    params: dict[str, Any],
    ctx: FitContext,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
) -> tuple[Any, int | None]:
    """Fit one configuration; with a validation set, LightGBM stops early on it. Returns the
    estimator and, for LightGBM, the boosting rounds it kept."""
    model = make_estimator(family, params, ctx, X.shape[1])
    if family == "lightgbm":
        callbacks = [_deadline_callback(ctx)]
        extra: dict[str, Any] = {}
        if X_val is not None:
            callbacks.append(lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False))
            extra["eval_set"] = [(X_val, y_val)]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
            native = params.get("categorical", "native") == "native"
            model.fit(X, y, categorical_feature=(ctx.categorical if native else []) or "auto",
                      callbacks=callbacks, **extra)  # fmt: skip
        rounds = int(model.best_iteration_ or model.n_estimators_) if X_val is not None else None
        return model, rounds or int(model.n_estimators_)
    model.fit(X, y)
    return model, None
