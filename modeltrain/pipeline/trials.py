"""One configuration's trial and what a search returns: a Trial is fitted on every fold of the
training rows (make_folds) and scored on their validation outputs (evaluate); the SearchResult
holds every trial, ranked, and the incumbents the final model is chosen from
(pipeline/selection.py). The search that runs the trials is pipeline/search.py."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modeltrain.constants import Task
from modeltrain.metrics import Judge, Metric
from modeltrain.pipeline import families
from modeltrain.pipeline.validation import Split
from modeltrain_model.ensemble import member_output

CV_FOLDS_SMALL, CV_ROWS_SMALL = 5, 2_000  # up to this many rows: 5-fold cross-validation
CV_FOLDS_MEDIUM, CV_ROWS_MEDIUM = 3, 20_000  # up to this many: 3 folds; above: one split
ROUNDS_GROWTH = 1.1  # LightGBM refits on more rows than its folds: this many more rounds
# Up to this many searched rows: above, one refit on more rows is about as steady, and a bag
# of k models costs k times one at prediction (a batch job's 280,000 rows: seconds).
BAG_MAX_ROWS = 5_000


@dataclass(frozen=True)
class Problem:
    """What a search is judged by besides the rows: the job's metric (bound to its classes and
    positive class), the rows' weights, their validation scheme."""

    judge: Judge
    weight: np.ndarray | None = None
    split: Split = field(default_factory=Split)


@dataclass
class Trial:
    number: int
    family: str
    params: dict[str, Any]
    log_target: bool
    score: float = math.nan  # the job's metric, oriented (higher is better: metrics.Judge)
    seconds: float = 0.0  # the whole evaluation (every fold)
    fit_seconds: float = 0.0  # one fold's fit, on average
    rounds: int | None = None  # LightGBM: boosting rounds to refit with
    output: np.ndarray | None = None  # validation outputs (rows of SearchResult.covered)
    models: list[Any] | None = None  # its fold models, kept for a Bag (Family.bagged)
    error: str | None = None

    @property
    def bag_seconds(self) -> float:
        """What fitting it as a Bag again costs: one fit per fold."""
        return self.fit_seconds * len(self.models or [])

    def leaderboard_row(self, task: Task, metric: Metric) -> dict[str, Any]:
        """The trial as the leaderboard shows it: its validation score in the metric itself."""
        params = dict(self.params)
        if self.rounds is not None:
            params["n_estimators"] = self.rounds
        if self.log_target:
            params["log_target"] = True
        if self.models:
            params["bag_folds"] = len(self.models)
        row: dict[str, Any] = {
            "trial": self.number,
            "estimator": families.label(self.family, task),
            metric.name: None if math.isnan(self.score) else round(metric.shown(self.score), 6),
            "fitSeconds": round(self.seconds, 3),
            **{k: round(v, 6) if isinstance(v, float) else v for k, v in params.items()},
        }
        if self.error:
            row["error"] = self.error
        return row


@dataclass
class SearchResult:
    trials: list[Trial]  # in the order they ran
    covered: np.ndarray  # training rows the validation outputs are for
    validation: str  # "5-fold cross-validation" or "holdout"
    stopped_early: bool = False  # asked to finish before the budget was spent
    ranked: list[Trial] = field(default_factory=list)  # finished trials, best first
    # the trial chosen so far, and each family's: replaced only by one clearly better
    # (selection.clearly_better); the family incumbents are what an ensemble is made of
    incumbent: Trial | None = None
    family_incumbents: dict[str, Trial] = field(default_factory=dict)
    families: tuple[str, ...] = ()  # the families searched (families.families_for)

    def incumbents(self) -> list[Trial]:
        """The incumbent first, then the families' other incumbents: what the final model is
        chosen from (selection.choose), the only trials whose outputs are kept."""
        first = [self.incumbent] if self.incumbent is not None else []
        return first + [t for t in self.family_incumbents.values() if t is not self.incumbent]

    def kept(self, trial: Trial) -> bool:
        return any(trial is t for t in self.incumbents())


def make_folds(
    y: np.ndarray, task: Task, count: int | None = None, split: Split | None = None
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """Folds by the row count (``count`` folds when given), or one validation split on large
    data, in the job's validation scheme (pipeline/validation.py; random: stratified for classes
    when every class can be in every fold)."""
    rows = len(y)
    k = count or (
        1 if rows > CV_ROWS_MEDIUM else CV_FOLDS_SMALL if rows <= CV_ROWS_SMALL else CV_FOLDS_MEDIUM
    )
    return (split or Split()).folds(y, task, k)


def evaluate(
    trial: Trial,
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    ctx: families.FitContext,
    n_classes: int,
    judge: Judge,
    weight: np.ndarray | None = None,
) -> None:
    """Fit the trial's configuration on each fold (rows weighted by ``weight``) and score its
    validation outputs by the job's metric (``judge``: oriented, higher is better)."""
    started = time.monotonic()
    shape = (len(y), n_classes) if ctx.task == Task.CLASSIFICATION else (len(y),)
    output = np.full(shape, np.nan)
    fit_times, rounds, models = [], [], []
    for fit_idx, val_idx in folds:
        y_fit, y_val = y[fit_idx], y[val_idx]
        if trial.log_target:
            y_fit, y_val = np.log1p(y_fit), np.log1p(y_val)
        fit_started = time.monotonic()
        model, kept = families.fit(
            trial.family, trial.params, ctx, X[fit_idx], y_fit, X[val_idx], y_val,
            *_weights(weight, fit_idx, val_idx),
        )  # fmt: skip
        fit_times.append(time.monotonic() - fit_started)
        if kept is not None:
            rounds.append(kept)
        models.append(model)
        out = member_output(model, X[val_idx], ctx.task, n_classes)
        output[val_idx] = np.expm1(out) if trial.log_target else out
    covered = np.concatenate([v for _, v in folds])
    covered.sort()
    trial.output = output[covered]
    trial.score = judge(y[covered], trial.output, None if weight is None else weight[covered])
    trial.fit_seconds = float(np.mean(fit_times))
    trial.rounds = int(np.mean(rounds) * ROUNDS_GROWTH) if rounds else None
    trial.seconds = time.monotonic() - started
    if len(folds) > 1 and families.get(trial.family).bagged and len(y) <= BAG_MAX_ROWS:
        trial.models = models


def _weights(
    weight: np.ndarray | None, fit_idx: np.ndarray, val_idx: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if weight is None:
        return None, None
    return weight[fit_idx], weight[val_idx]
