"""The metric table: each fast scorer agrees with scikit-learn's on random data (with and
without row weights), and the threshold search is right and deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from modeltrain import metrics
from modeltrain.constants import Task


def _outputs(task: Task, classes: int, rows: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    if task == Task.REGRESSION:
        y = rng.gamma(2.0, 10.0, rows)
        return y, y + rng.normal(0, 8, rows)
    y = rng.integers(0, classes, rows)
    logits = rng.normal(0, 1, (rows, classes))
    logits[np.arange(rows), y] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("metric", metrics.METRICS, ids=lambda m: m.name)
def test_each_fast_scorer_is_scikit_learns(metric, weighted):
    for classes in (2, 3) if metric.task == Task.CLASSIFICATION else (0,):
        if metric.binary_only and classes > 2:
            continue
        y, out = _outputs(metric.task, classes)
        weight = np.random.default_rng(1).uniform(0, 3, len(y)) if weighted else None
        for pos in (1, 0) if classes == 2 else (1,):
            ours = metric.fast(y, out, weight, pos)
            theirs = metrics.library_score(metric, y, out, weight, pos)
            assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), (metric.name, classes, pos)


def test_a_row_of_weight_zero_changes_no_metric():
    for metric in metrics.METRICS:
        classes = 2 if metric.task == Task.CLASSIFICATION else 0
        y, out = _outputs(metric.task, classes, rows=101)
        weight = np.ones(len(y))
        weight[-1] = 0.0
        with_zero = metrics.Judge(metric, classes).value(y, out, weight)
        without = metrics.Judge(metric, classes).value(y[:-1], out[:-1], None)
        assert with_zero == pytest.approx(without, rel=1e-9), metric.name


@pytest.mark.parametrize("name", ["f1", "accuracy", "balanced_accuracy", "mcc"])
def test_the_tuned_threshold_is_the_best_cut_and_deterministic(name):
    metric = metrics.BY_NAME[name]
    y, out = _outputs(Task.CLASSIFICATION, 2, rows=400, seed=3)
    y = np.where(np.random.default_rng(4).random(400) < 0.15, 1, 0)  # a rare positive class
    threshold, value = metrics.best_threshold(metric, y, out, None, 1)
    again = metrics.best_threshold(metric, y, out.copy(), None, 1)
    assert (threshold, value) == again
    labels = np.where(out[:, 1] >= threshold, 1, 0)
    at_threshold = metrics.library_score(metric, y, out, None, 1, threshold)
    assert at_threshold == pytest.approx(value, rel=1e-9)
    assert metric.library(y, labels, None, 1) == pytest.approx(value, rel=1e-9)
    # no other cut does better (every distinct probability tried by brute force)
    for cut in np.unique(out[:, 1]):
        assert metrics.library_score(metric, y, out, None, 1, float(cut)) <= value + 1e-12


def test_metric_directions_order_the_search():
    mae = metrics.BY_NAME["mae"]
    assert mae.oriented(2.0) > mae.oriented(3.0)
    assert mae.shown(mae.oriented(2.5)) == 2.5
    assert metrics.names(Task.REGRESSION) == ["r2", "rmse", "mae", "mape", "rmsle"]
    assert metrics.default_for(Task.CLASSIFICATION).name == "roc_auc"
