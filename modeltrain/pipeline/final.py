"""The final model: the trials selection.choose picked, fitted on all the rows given, as the
Ensemble step of the registered pipeline."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modeltrain.constants import Task
from modeltrain.metrics import Metric
from modeltrain.pipeline import families
from modeltrain.pipeline.selection import Picked
from modeltrain.pipeline.trials import SearchResult, Trial, make_folds
from modeltrain.pipeline.validation import Split
from modeltrain_model.ensemble import Bag, Ensemble


@dataclass
class FittedMember:
    trial: Trial
    weight: int
    model: Any
    fit_seconds: float


def fit_members(
    picked: Picked,
    M: np.ndarray,
    y: np.ndarray,
    task: Task,
    categorical: list[int],
    threads: int,
    tick: Callable[[], None] | None = None,
    searched: bool = True,
    row_weight: np.ndarray | None = None,
    split: Split | None = None,
) -> list[FittedMember]:
    """The chosen configurations fitted on all the rows given. A trial with fold models is a
    Bag: on the rows it was searched on (``searched``), its fold models as they are; on other
    rows, one model per fold of them, each stopped early on its fold, as in the search. Others
    are one fit, without early stopping (LightGBM with the rounds its validation found). Rows
    are weighted by ``row_weight``, and a Bag's folds follow the job's scheme (``split``)."""
    ctx = families.FitContext(task, categorical, threads, math.inf, tick=tick)
    out = []
    for trial, weight in picked:
        started = time.monotonic()
        target = np.log1p(y) if trial.log_target else y
        model: Any
        if trial.models and searched:
            model, seconds = Bag(list(trial.models)), trial.bag_seconds
        elif trial.models:
            model = Bag(_fold_models(trial, ctx, M, target, len(trial.models), row_weight, split))
            seconds = time.monotonic() - started
        else:
            params = dict(trial.params)
            if trial.rounds is not None:
                params["n_estimators"] = max(1, trial.rounds)
            model, _ = families.fit(trial.family, params, ctx, M, target, weight=row_weight)
            seconds = time.monotonic() - started
        _single_threaded(model)
        out.append(FittedMember(trial, weight, model, seconds))
    return out


def _fold_models(
    trial: Trial,
    ctx: families.FitContext,
    M: np.ndarray,
    y: np.ndarray,
    k: int,
    weight: np.ndarray | None,
    split: Split | None,
) -> list[Any]:
    folds, _ = make_folds(y, Task(ctx.task), count=k, split=split)
    return [
        families.fit(trial.family, trial.params, ctx, M[fit], y[fit], M[val], y[val],
                     *((None, None) if weight is None else (weight[fit], weight[val])))[0]
        for fit, val in folds
    ]  # fmt: skip


def _single_threaded(model: Any) -> None:
    """One thread per predict: on the small batches of a prediction service a thread pool costs
    more than it saves (LightGBM: ~8 ms vs ~1 ms per row, measured)."""
    for each in (model.models or []) if isinstance(model, Bag) else [model]:
        if "n_jobs" in each.get_params():
            each.set_params(n_jobs=1)


def as_ensemble(
    fitted: list[FittedMember],
    task: Task,
    classes: list[Any] | None,
    threshold: float | None = None,
    positive: int | None = None,
) -> Ensemble:
    """The Ensemble step; a binary job tuned for a label metric keeps its ``threshold`` on the
    probability of class ``positive`` (a position in ``classes``)."""
    return Ensemble(
        members=[m.model for m in fitted],
        weights=[float(m.weight) for m in fitted],
        names=[families.label(m.trial.family, task) for m in fitted],
        task=task.value,
        classes=classes,
        log_target=[m.trial.log_target for m in fitted],
        threshold=threshold,
        positive=positive,
    )


def describe(
    found: SearchResult, picked: Picked, score: float, task: Task, metric: Metric
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """The chosen model's name and params, and the leaderboard: an ensemble first, then the
    trials best first, then the ones that failed. The chosen model's row says `"role":
    "chosen"` (an ensemble's members say `"member"`, with their weight), and each family's
    best row says `"familyBest": true`."""
    chosen = {t.number: w for t, w in picked}
    leaderboard, best_of = [], set()
    for trial in [*found.ranked, *(t for t in found.trials if t.error)]:
        row = trial.leaderboard_row(task, metric)
        if trial.number in chosen:
            row["role"] = "chosen" if len(picked) == 1 else "member"
            if len(picked) > 1:
                row["weight"] = chosen[trial.number]
        if not trial.error and trial.family not in best_of:
            best_of.add(trial.family)
            row["familyBest"] = True
        leaderboard.append(row)
    if len(picked) == 1:
        params = picked[0][0].leaderboard_row(task, metric)
        for key in ("trial", "estimator", metric.name, "fitSeconds"):
            params.pop(key, None)
        return families.label(picked[0][0].family, task), params, leaderboard
    members = ", ".join(f"{families.label(t.family, task)}#{t.number}×{w}" for t, w in picked)
    ensemble = {"trial": None, "estimator": "ensemble", metric.name: round(metric.shown(score), 6),
                "members": members, "role": "chosen"}  # fmt: skip
    return "ensemble", {"members": members}, [ensemble, *leaderboard]


def notable(leaderboard: list[dict[str, Any]], first: int) -> list[dict[str, Any]]:
    """The best `first` rows of a leaderboard, and beyond them the rows that explain the
    choice: the chosen model's (or its members') and each family's best."""
    return [
        row
        for i, row in enumerate(leaderboard)
        if i < first or row.get("role") or row.get("familyBest")
    ]
