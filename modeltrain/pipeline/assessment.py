"""What is said of the chosen model on the held-out rows besides its metrics: the predictions
the plots are drawn from, how much each column matters, and the mean contributions that make
`result.explanations`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from modeltrain.constants import Task
from modeltrain_model.ensemble import Bag, Ensemble
from modeltrain_model.explain import ExplanationUnavailable, explain
from modeltrain_model.featurizer import Featurizer

IMPORTANCE_ROWS = 500  # held-out rows used for permutation importance
EXPLAIN_ROWS = 500  # held-out rows whose contributions make `result.explanations`, at most
EXPLAIN_FIRST_ROWS = 10  # explained first, to time the rest
EXPLAIN_SECONDS_SHARE = 0.05  # of the time budget that explaining them may take...
EXPLAIN_MIN_SECONDS = 0.5  # ...or this, whichever is longer


def holdout_predictions(
    pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task
) -> dict[str, Any]:
    out: dict[str, Any] = {"y_true": y.to_numpy(), "y_pred": pipeline.predict(X)}
    if task == Task.CLASSIFICATION and hasattr(pipeline, "predict_proba"):
        out["proba"] = pipeline.predict_proba(X)
        out["classes"] = list(pipeline.classes_)
    return out


def column_importance(
    pipeline: Pipeline, X: pd.DataFrame, y: pd.Series, task: Task
) -> dict[str, float]:
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


def explain_allowance(budget: float) -> float:
    return max(EXPLAIN_MIN_SECONDS, EXPLAIN_SECONDS_SHARE * budget)


def mean_contributions(pipeline: Pipeline, X: pd.DataFrame, allowance: float) -> dict[str, float]:
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
