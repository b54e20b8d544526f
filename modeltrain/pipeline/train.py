"""train(): the whole training pipeline on a DataFrame."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from modeltrain.constants import STAGE_PROGRESS, Stage, Task
from modeltrain.drift.profile import build_profile
from modeltrain.exceptions import TrainingError
from modeltrain.metrics import Metric
from modeltrain.metrics import held_out as held_out_metrics
from modeltrain.phases import Phases
from modeltrain.pipeline.assessment import (
    column_importance,
    explain_allowance,
    holdout_predictions,
    mean_contributions,
)
from modeltrain.pipeline.final import FittedMember, as_ensemble, describe, fit_members
from modeltrain.pipeline.guardrails import build_report, validation_hints
from modeltrain.pipeline.prepared import Prepared, prepare
from modeltrain.pipeline.search import search
from modeltrain.pipeline.selection import Picked, choose
from modeltrain.pipeline.trials import Problem, SearchResult, Trial
from modeltrain.pipeline.validation import HOLDOUT_SHARE
from modeltrain.pipeline.validation import describe as describe_validation
from modeltrain_model.ensemble import Bag, Ensemble
from modeltrain_model.featurizer import Featurizer

# progress(stage, percent=None, best_score=None, eta_seconds=None): percent None means the
# stage's start (STAGE_PROGRESS); best_score is the primary metric of the best candidate so far,
# eta_seconds the time left in the search budget.
ProgressFn = Callable[..., None]
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
    families: tuple[str, ...] | None = None  # the families to search (None: all that fit)
    exclude_columns: tuple[str, ...] | None = None  # columns never used as features
    metric: str | None = None  # what the search optimises (modeltrain.metrics; None: the task's)
    positive_class: str | None = None  # the class binary metrics are about (None: the rarer)
    weight_column: str | None = None  # row weights: in fitting, validation and held-out metrics
    time_column: str | None = None  # validate on later rows than those fitted on
    group_column: str | None = None  # keep each group on one side of every split


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
    # mean |contribution| per input column on the held-out rows (modeltrain_model/explain.py)
    explanations: dict[str, float] = field(default_factory=dict)
    # the inputs' training profile, what served rows are measured against (drift/profile.py)
    profile: dict[str, Any] = field(default_factory=dict)
    # seconds of each step: prepare, search, choose (and fit), evaluate, refit, explain
    phases: dict[str, float] = field(default_factory=dict)
    # `result.validation`: the scheme and the held-out rows (pipeline/validation.describe)
    validation: dict[str, Any] = field(default_factory=dict)
    positive_class: Any = None  # the class binary metrics are about (two classes)
    decision_threshold: float | None = None  # on p(positive_class), for a label metric
    higher_is_better: bool = True  # the primary metric's direction (the champion rule's)


def _example(X: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    """The first rows, integer columns as floats (every numeric dtype is a numeric feature): the
    model's signature then accepts a missing value in them, which our featurizer handles,
    where an integer column in MLflow's schema would refuse it (and MLflow warns of that)."""
    example = X.head(5).copy()
    for name in numeric:
        if pd.api.types.is_integer_dtype(example[name]):
            example[name] = example[name].astype("float64")
    return example


def _noop(stage: Stage, progress: int | None = None, **details: Any) -> None:
    return None


def _evaluate(
    pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, data: Prepared, weight: np.ndarray | None
) -> dict[str, float]:
    """Every metric of the task on the held-out rows (weighted), the primary one always."""
    model: Ensemble = pipeline.named_steps["model"]
    classify = data.task == Task.CLASSIFICATION
    output = pipeline.predict_proba(X) if classify else pipeline.predict(X)
    positive = 1 if data.positive is None else data.positive
    threshold = getattr(model, "threshold", None)
    found = held_out_metrics(data.task, y, output, weight, positive, threshold)
    if data.metric.name not in found:  # e.g. ROC AUC of rows without some class
        found[data.metric.name] = data.metric.fast(y, output, weight, positive)
    return {name: float(value) for name, value in found.items()}


class _Progress:
    """Progress while training: from the training stage's share to just below evaluating's as
    the budget is spent, with the ETA and the best validation score so far (from the search,
    and ticks during long fits)."""

    FIRST = STAGE_PROGRESS[Stage.TRAINING]
    SPAN = STAGE_PROGRESS[Stage.EVALUATING] - 1 - FIRST

    def __init__(self, report: ProgressFn, budget: float) -> None:
        self.metric: Metric | None = None  # known once the data is read
        self._report = report
        self._budget = max(budget, 1e-9)
        self.started = time.monotonic()
        self.deadline = self.started + budget
        self.best: float | None = None

    def __call__(self, best: Trial | None = None) -> None:
        if best is not None:
            self.best = self.metric.shown(best.score) if self.metric else best.score
        now = time.monotonic()
        spent = min(1.0, (now - self.started) / self._budget)
        self._report(
            Stage.TRAINING,
            self.FIRST + int(self.SPAN * spent),
            best_score=None if self.best is None else round(self.best, 6),
            eta_seconds=round(max(0.0, self.deadline - now), 1),
        )


@dataclass
class _Rows:
    """The held-out split of a job's rows: the training rows featurized as the families fit
    them, with their targets, weights and validation scheme (the search's Problem); the
    held-out rows as read."""

    featurizer: Featurizer
    M_train: np.ndarray
    t_train: np.ndarray
    problem: Problem
    X_test: pd.DataFrame
    t_test: np.ndarray
    y_test: pd.Series
    w_test: np.ndarray | None
    test_rows: np.ndarray

    @classmethod
    def split(cls, data: Prepared) -> _Rows:
        codes = data.encode(data.y)  # the targets as the families fit them
        fit_rows, test_rows = data.roles.split.holdout(codes, data.task)
        X_train = data.X.iloc[fit_rows]
        featurizer = data.featurizer().fit(X_train)
        problem = Problem(data.judge, _rows(data.roles.weight, fit_rows),
                          data.roles.split.take(fit_rows))  # fmt: skip
        return cls(featurizer, featurizer.transform(X_train), codes[fit_rows], problem,
                   data.X.iloc[test_rows], codes[test_rows], data.y.iloc[test_rows],
                   _rows(data.roles.weight, test_rows), test_rows)  # fmt: skip


def train(df: pd.DataFrame, options: TrainOptions, progress: ProgressFn = _noop) -> TrainedModel:
    progress(Stage.PROFILING)
    ticker = _Progress(progress, options.time_budget)
    phases = Phases()
    data = prepare(df, options)
    task, metric, plan = data.task, data.metric, data.plan
    ticker.metric = metric
    report = _report(data, options)
    rows = _Rows.split(data)
    ticker()
    phases.mark("prepare")
    # The search and the final fits end by `fitted_by`; then come explaining the held-out rows
    # (an allowance of the budget) and evaluating (a few hundred rows: ~0.05 s).
    explaining = explain_allowance(options.time_budget)
    fitted_by = ticker.deadline - explaining
    found = _search(rows, task, fitted_by, options, ticker)
    phases.mark("search")
    final = _final_model(found, rows, data, options, ticker, fitted_by)
    phases.mark("choose")
    progress(Stage.EVALUATING)
    pipeline = final.pipeline
    held_out = _evaluate(pipeline, rows.X_test, rows.t_test, data, rows.w_test)
    holdout = holdout_predictions(pipeline, rows.X_test, rows.y_test, task)
    importance = column_importance(pipeline, rows.X_test, rows.y_test, task)
    phases.mark("evaluate")
    if final.refit_all:  # the holdout rows join the training rows for the registered model
        pipeline = _refit_on_all_rows(final, rows.featurizer, data, options.threads)
    estimator, params, leaderboard = describe(found, final.picked, final.score, task, metric)
    phases.mark("refit")
    explanations = mean_contributions(pipeline, rows.X_test, explaining)
    phases.mark("explain")
    return TrainedModel(
        pipeline=pipeline,
        task=task,
        target=data.target,
        features=list(data.X.columns),
        metrics=held_out,
        primary_metric=metric.name,
        estimator=estimator,
        params=params,
        leaderboard=leaderboard,
        dropped_columns=plan.dropped,
        rows=int(len(data.df)),
        columns=int(df.shape[1]),
        classes=data.classes,
        input_example=_example(data.X, plan.numeric),
        train_seconds=time.monotonic() - ticker.started,
        guardrails={**report, "columnTypes": plan.kinds()},
        holdout=holdout,
        importance=importance,
        explanations=explanations,
        profile=_profile(data, options.time_column),
        search=_search_summary(found, metric.shown(final.score), final.refit_all, final.bagged),
        phases=phases.seconds,
        validation=describe_validation(data.roles.split, rows.test_rows, data.roles.shown_times),
        positive_class=None if data.positive is None else (data.classes or [])[data.positive],
        decision_threshold=None if final.threshold is None else round(final.threshold, 6),
        higher_is_better=metric.higher_is_better,
    )


@dataclass
class _Final:
    picked: Picked
    score: float  # the validation score, oriented
    threshold: float | None  # a label metric's, tuned on the out-of-fold outputs
    pipeline: Pipeline  # fitted on the training rows
    bagged: bool
    refit_all: bool  # fitted again on all rows, holdout included (_refit_in_time)


def _final_model(
    found: SearchResult,
    rows: _Rows,
    data: Prepared,
    options: TrainOptions,
    ticker: _Progress,
    fitted_by: float,
) -> _Final:
    """The chosen members fitted on the training rows, with the threshold a label metric
    tunes on their out-of-fold outputs, and whether they are fitted again on all rows."""
    weight = rows.problem.weight
    picked, score, oof = choose(found, rows.t_train, data.judge, weight)
    threshold = data.judge.threshold(rows.t_train[found.covered], oof, _rows(weight, found.covered))
    fitted = fit_members(picked, rows.M_train, rows.t_train, data.task,
                         rows.featurizer.categorical_indices_, options.threads, ticker,
                         row_weight=weight, split=rows.problem.split)  # fmt: skip
    model = as_ensemble(fitted, data.task, data.classes, threshold, data.positive)
    bagged = any(isinstance(member.model, Bag) for member in fitted)
    pipeline = Pipeline([("features", rows.featurizer), ("model", model)])
    refit_all = _refit_in_time(fitted, bagged, fitted_by, options.time_budget)
    return _Final(picked, score, threshold, pipeline, bagged, refit_all)


def _report(data: Prepared, options: TrainOptions) -> dict[str, Any]:
    """The guardrails report, with the hints at a time or group column not given."""
    hints = validation_hints(data.df, data.target, data.plan, options.time_column,
                             options.group_column)  # fmt: skip
    return build_report(data.df, data.target, data.task, data.X, data.y, data.plan, hints)


def _profile(data: Prepared, time_column: str | None) -> dict[str, Any]:
    """The inputs' training profile (drift/profile.py), without the time column: a time
    always drifts."""
    profiled = [c for c in data.X.columns if c != time_column]
    kinds = {c: k for c, k in data.plan.kinds().items() if c in profiled}
    return build_profile(data.X[profiled], kinds, data.plan.datetime).to_json()


def _rows(values: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[rows]


def _search(
    rows: _Rows, task: Task, fitted_by: float, options: TrainOptions, ticker: _Progress
) -> SearchResult:
    """The model search on the training rows until ``fitted_by``; a search that fitted
    nothing fails the job with the trials' errors."""
    found = search(rows.M_train, rows.t_train, task, rows.featurizer.categorical_indices_,
                   fitted_by, options.threads, options.should_stop, ticker, options.families,
                   rows.problem)  # fmt: skip
    if not found.ranked:
        errors = "; ".join(sorted({t.error for t in found.trials if t.error}))
        raise TrainingError(f"no model could be fitted on this data: {errors or 'no time'}"[:1000])
    return found


def _refit_in_time(
    fitted: list[FittedMember], bagged: bool, fitted_by: float, budget: float
) -> bool:
    """Whether the chosen members are fitted once more on all rows, holdout included. A Bag is
    a model of every training row already, so its refit on all rows (one fit per fold) must fit
    in the budget; one model's refit may overrun it a little. Decided before evaluating, which
    the search's reserve does not count: the same model then gets the same refit whether the
    search ran 10 s or 30 s."""
    refit_seconds = sum(member.fit_seconds for member in fitted) / (1 - HOLDOUT_SHARE)
    grace = 0.0 if bagged else max(REFIT_GRACE, REFIT_GRACE_SHARE * budget)
    return time.monotonic() + refit_seconds <= fitted_by + grace


def _refit_on_all_rows(
    final: _Final, featurizer: Featurizer, data: Prepared, threads: int
) -> Pipeline:
    fitted = fit_members(final.picked, featurizer.transform(data.X), data.encode(data.y), data.task,
                         featurizer.categorical_indices_, threads, searched=False,
                         row_weight=data.roles.weight, split=data.roles.split)  # fmt: skip
    model = as_ensemble(fitted, data.task, data.classes, final.threshold, data.positive)
    return Pipeline([("features", featurizer), ("model", model)])


def _search_summary(
    found: SearchResult, score: float, refit_all: bool, bagged: bool
) -> dict[str, Any]:
    return {
        "validation": found.validation,
        "families": list(found.families),
        "trials": len(found.trials),
        "stoppedEarly": found.stopped_early,
        "validationScore": round(score, 6),
        "refitOnAllRows": refit_all,
        "bagged": bagged,
    }
