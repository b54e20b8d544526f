"""train(): the whole training pipeline on a DataFrame."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from modeltrain.constants import STAGE_PROGRESS, Stage, Task
from modeltrain.drift.profile import build_profile
from modeltrain.exceptions import InvalidInput, TrainingError
from modeltrain.metrics import Judge, Metric
from modeltrain.metrics import held_out as held_out_metrics
from modeltrain.phases import Phases
from modeltrain.pipeline.features import ColumnPlan, normalise_features, plan_columns
from modeltrain.pipeline.final import FittedMember, as_ensemble, describe, fit_members
from modeltrain.pipeline.guardrails import build_report, validation_hints
from modeltrain.pipeline.problem import (
    RowRoles,
    check_metric,
    positive_class,
    row_roles,
    task_and_metric,
)
from modeltrain.pipeline.search import search
from modeltrain.pipeline.selection import Picked, choose
from modeltrain.pipeline.tasks import clean_target
from modeltrain.pipeline.trials import Problem, SearchResult, Trial
from modeltrain.pipeline.validation import HOLDOUT_SHARE
from modeltrain.pipeline.validation import describe as describe_validation
from modeltrain.training_options import check_columns
from modeltrain_model.ensemble import Bag, Ensemble
from modeltrain_model.explain import ExplanationUnavailable, explain
from modeltrain_model.featurizer import Featurizer

# progress(stage, percent=None, best_score=None, eta_seconds=None): percent None means the
# stage's start (STAGE_PROGRESS); best_score is the primary metric of the best candidate so far,
# eta_seconds the time left in the search budget.
ProgressFn = Callable[..., None]
IMPORTANCE_ROWS = 500  # held-out rows used for permutation importance
EXPLAIN_ROWS = 500  # held-out rows whose contributions make `result.explanations`, at most
EXPLAIN_FIRST_ROWS = 10  # explained first, to time the rest
EXPLAIN_SECONDS_SHARE = 0.05  # of the time budget that explaining them may take...
EXPLAIN_MIN_SECONDS = 0.5  # ...or this, whichever is longer
# Refitting on all rows (holdout included) may end the job this far past its budget:
# seconds, or a share of the budget when that is more.
REFIT_GRACE, REFIT_GRACE_SHARE = 1.0, 0.05
EXCLUDED = "excluded on request (excludeColumns)"  # its reason in droppedColumns


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
    pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, data: _Prepared, weight: np.ndarray | None
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


@dataclass
class _Prepared:
    task: Task
    target: str
    df: pd.DataFrame  # rows with a target
    X: pd.DataFrame  # the used columns, typed as the signature will be
    y: pd.Series
    plan: ColumnPlan
    classes: list[Any] | None  # sorted labels; targets are fitted as their positions
    metric: Metric
    positive: int | None  # the position in classes of the positive class (two classes)
    roles: RowRoles  # weights and the validation scheme, aligned with the rows

    @property
    def judge(self) -> Judge:
        positive = 1 if self.positive is None else self.positive
        return Judge(self.metric, len(self.classes or []), positive)

    def encode(self, y: pd.Series) -> np.ndarray:
        """Targets as the families fit them: class positions 0..k-1, or floats."""
        if self.classes is None:
            return y.to_numpy(dtype="float64")
        return np.searchsorted(np.asarray(self.classes), y.to_numpy()).astype("int64")

    def featurizer(self) -> Featurizer:
        """An unfitted Featurizer of the columns as typed."""
        plan = self.plan
        return Featurizer(plan.numeric, plan.categorical, plan.datetime, plan.text)


def _prepare(df: pd.DataFrame, options: TrainOptions) -> _Prepared:
    target = options.target or str(df.columns[-1])
    if target not in df.columns:
        raise TrainingError(f"target column {target!r} is not in the data")
    excluded = list(options.exclude_columns or ())
    try:  # the upload checked the header already; a retrain's data, say, may differ
        check_columns(options, [str(c) for c in df.columns])
    except InvalidInput as exc:
        raise TrainingError(str(exc)) from None
    task, metric = task_and_metric(df[target], options.task, options.metric)
    df = clean_target(df, target, task)
    roles = row_roles(df, options)
    X = normalise_features(df.drop(columns=[target, *excluded, *roles.not_features]))
    y = df[target]
    if task == Task.CLASSIFICATION and not pd.api.types.is_bool_dtype(y):
        y = y.astype(str) if not pd.api.types.is_numeric_dtype(y) else y
    plan = plan_columns(X)
    plan.dropped = {**dict.fromkeys(excluded, EXCLUDED), **roles.not_features, **plan.dropped}
    if not plan.used:
        raise TrainingError(
            "no usable feature columns: " + "; ".join(f"{c}: {r}" for c, r in plan.dropped.items())
        )
    classes = [_plain(c) for c in np.unique(y.to_numpy())] if task == Task.CLASSIFICATION else None
    check_metric(metric, y, classes)
    positive = positive_class(classes, y, options.positive_class, task)
    return _Prepared(task, target, df, X[plan.used], y, plan, classes, metric, positive, roles)


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


def train(df: pd.DataFrame, options: TrainOptions, progress: ProgressFn = _noop) -> TrainedModel:
    progress(Stage.PROFILING)
    ticker = _Progress(progress, options.time_budget)
    phases = Phases()
    data = _prepare(df, options)
    task, metric, judge, roles = data.task, data.metric, data.judge, data.roles
    ticker.metric = metric
    hints = validation_hints(data.df, data.target, data.plan, options.time_column,
                             options.group_column)  # fmt: skip
    report = build_report(data.df, data.target, task, data.X, data.y, data.plan, hints)
    codes = data.encode(data.y)  # the targets as the families fit them
    fit_rows, test_rows = roles.split.holdout(codes, task)
    X_train, X_test = data.X.iloc[fit_rows], data.X.iloc[test_rows]
    t_train, t_test = codes[fit_rows], codes[test_rows]
    w_train, w_test = _rows(roles.weight, fit_rows), _rows(roles.weight, test_rows)
    problem = Problem(judge, w_train, roles.split.take(fit_rows))
    plan, featurizer = data.plan, data.featurizer().fit(X_train)
    M_train, cats = featurizer.transform(X_train), featurizer.categorical_indices_
    ticker()
    phases.mark("prepare")
    # The search and the final fits end by `fitted_by`; then come explaining the held-out rows
    # (an allowance of the budget) and evaluating (a few hundred rows: ~0.05 s).
    explaining = _explain_allowance(options.time_budget)
    fitted_by = ticker.deadline - explaining
    found = _search(M_train, t_train, task, cats, fitted_by, options, ticker, problem)
    phases.mark("search")
    picked, score, oof = choose(found, t_train, judge, w_train)
    # a label metric's threshold, tuned on the chosen model's out-of-fold outputs
    threshold = judge.threshold(t_train[found.covered], oof, _rows(w_train, found.covered))
    fitted = fit_members(picked, M_train, t_train, task, cats, options.threads, ticker,
                         row_weight=w_train, split=problem.split)  # fmt: skip
    model = as_ensemble(fitted, task, data.classes, threshold, data.positive)
    pipeline = Pipeline([("features", featurizer), ("model", model)])
    bagged = any(isinstance(member.model, Bag) for member in fitted)
    refit_all = _refit_in_time(fitted, bagged, fitted_by, options.time_budget)
    phases.mark("choose")
    progress(Stage.EVALUATING)
    held_out = _evaluate(pipeline, X_test, t_test, data, w_test)
    holdout = _holdout(pipeline, X_test, data.y.iloc[test_rows], task)
    importance = _importance(pipeline, X_test, data.y.iloc[test_rows], task)
    phases.mark("evaluate")
    if refit_all:  # the holdout rows join the training rows for the registered model
        pipeline = _refit_on_all_rows(picked, featurizer, data, options.threads, threshold)
    estimator, params, leaderboard = describe(found, picked, score, task, metric)
    phases.mark("refit")
    explanations = _mean_contributions(pipeline, X_test, explaining)
    phases.mark("explain")
    profiled = [c for c in data.X.columns if c != options.time_column]  # a time always drifts
    kinds = {c: k for c, k in plan.kinds().items() if c in profiled}
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
        profile=build_profile(data.X[profiled], kinds, plan.datetime).to_json(),
        search=_search_summary(found, metric.shown(score), refit_all, bagged),
        phases=phases.seconds,
        validation=describe_validation(roles.split, test_rows, roles.shown_times),
        positive_class=None if data.positive is None else (data.classes or [])[data.positive],
        decision_threshold=None if threshold is None else round(threshold, 6),
        higher_is_better=metric.higher_is_better,
    )


def _rows(values: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[rows]


def _search(
    M: np.ndarray,
    y: np.ndarray,
    task: Task,
    categorical: list[int],
    fitted_by: float,
    options: TrainOptions,
    ticker: _Progress,
    problem: Problem,
) -> SearchResult:
    """The model search until ``fitted_by``; a search that fitted nothing fails the job with
    the trials' errors."""
    found = search(M, y, task, categorical, fitted_by, options.threads, options.should_stop,
                   ticker, options.families, problem)  # fmt: skip
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
    picked: Picked, featurizer: Featurizer, data: _Prepared, threads: int, threshold: float | None
) -> Pipeline:
    fitted = fit_members(picked, featurizer.transform(data.X), data.encode(data.y), data.task,
                         featurizer.categorical_indices_, threads, searched=False,
                         row_weight=data.roles.weight, split=data.roles.split)  # fmt: skip
    model = as_ensemble(fitted, data.task, data.classes, threshold, data.positive)
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
    members = model.members or []
    inner = (members[0].models or []) if len(members) == 1 and isinstance(members[0], Bag) else []
    boosters = [getattr(m, "booster_", None) for m in (inner or members[:1])]
    if len(members) == 1 and all(b is not None for b in boosters):  # one LightGBM, or a Bag
        gains: dict[str, float] = {}
        for booster in boosters:
            assert booster is not None
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


def _explain_allowance(budget: float) -> float:
    return max(EXPLAIN_MIN_SECONDS, EXPLAIN_SECONDS_SHARE * budget)


def _mean_contributions(pipeline: Pipeline, X: pd.DataFrame, allowance: float) -> dict[str, float]:
    """Mean |contribution| per input column over a sample of the held-out rows, largest first,
    explained by the registered pipeline. Exact tree SHAP of deep forests costs ~15 ms a row
    (profiled: 100 extra trees of 1,100 nodes each), so rows are explained in blocks until
    ``allowance`` seconds (_explain_allowance of the budget) are spent."""
    sample = X if len(X) <= EXPLAIN_ROWS else X.sample(n=EXPLAIN_ROWS, random_state=0)
    started, done, block = time.monotonic(), 0, EXPLAIN_FIRST_ROWS
    totals = np.zeros(X.shape[1])
    while done < len(sample):
        try:
            out = explain(pipeline, sample.iloc[done : done + block], list(X.columns))
        except ExplanationUnavailable:
            return {}
        totals += np.abs(out.contributions).sum(axis=0)
        done += len(out.value)
        spent = time.monotonic() - started
        if spent >= allowance:
            break
        block = max(EXPLAIN_FIRST_ROWS, int((allowance - spent) / (spent / done)))
    pairs = sorted(zip(X.columns, (totals / max(done, 1)).tolist(), strict=True),
                   key=lambda p: -p[1])  # fmt: skip
    return {str(name): round(value, 6) for name, value in pairs}


def _shares(values: dict[str, float]) -> dict[str, float]:
    clipped = {str(k): max(0.0, float(v)) for k, v in values.items()}
    total = sum(clipped.values()) or 1.0
    pairs = sorted(clipped.items(), key=lambda p: -p[1])
    return {name: round(value / total, 6) for name, value in pairs}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
