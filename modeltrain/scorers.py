"""The metrics' scorers: fast ones on raw model outputs (class probabilities, rows × classes
with classes 0..k-1; or values) with numpy only, and scikit-learn's, which a unit test holds
equal to them. The table that names them, their direction and what they judge is
modeltrain/metrics.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

EPS = 1e-15  # probabilities are clipped to [EPS, 1 - EPS] for the log loss (as scikit-learn)
MAPE_EPS = float(np.finfo(np.float64).eps)  # |y| below this counts as this (as scikit-learn)

# (y as 0..k-1 or values, output, weights or None, positive class index) -> the metric
Fast = Callable[[np.ndarray, np.ndarray, np.ndarray | None, int], float]


# --- fast scorers ------------------------------------------------------------------------


def weights_of(y: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    return np.ones(len(y)) if weight is None else np.asarray(weight, dtype="float64")


def labels(output: np.ndarray, positive: int, threshold: float | None = None) -> np.ndarray:
    """Class positions from probabilities: the likeliest, or for two classes p(positive) ≥
    threshold when one is given (as the model's Ensemble.class_positions)."""
    if threshold is not None and output.shape[1] == 2:
        return np.where(output[:, positive] >= threshold, positive, 1 - positive)
    return output.argmax(axis=1)


def confusion(y: np.ndarray, pred: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y * k + pred, weights=w, minlength=k * k).reshape(k, k)


def ratio(num: Any, den: Any) -> Any:
    return np.divide(num, den, out=np.zeros_like(np.asarray(num, dtype="float64")),
                     where=np.asarray(den) > 0)  # fmt: skip


def binary_counts(y: np.ndarray, pred: np.ndarray, w: np.ndarray, pos: int):
    hit, said = y == pos, pred == pos
    return (w[hit & said].sum(), w[~hit & said].sum(), w[hit & ~said].sum(),
            w[~hit & ~said].sum())  # fmt: skip


def f1(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    return ratio(2 * tp, 2 * tp + fp + fn)


def accuracy(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    return ratio(tp + tn, tp + fp + fn + tn)


def balanced(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    sens, spec = ratio(tp, tp + fn), ratio(tn, tn + fp)
    both = (np.asarray(tp + fn) > 0) & (np.asarray(tn + fp) > 0)
    return np.where(both, (sens + spec) / 2, sens + spec)


def mcc(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return ratio(tp * tn - fp * fn, den)


BINARY_FORMULAS = {"f1": f1, "accuracy": accuracy, "balanced_accuracy": balanced, "mcc": mcc}


def on_labels(formula: Callable[..., Any]) -> Fast:
    def score(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
        pred = labels(out, pos)
        return float(formula(*binary_counts(y, pred, weights_of(y, weight), pos)))

    return score


def accuracy_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    w = weights_of(y, weight)
    return float(w[labels(out, pos) == y].sum() / w.sum())


def balanced_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    k = out.shape[1]
    cm = confusion(y, labels(out, pos), weights_of(y, weight), k)
    seen = cm.sum(axis=1) > 0
    return float((np.diag(cm)[seen] / cm.sum(axis=1)[seen]).mean())


def f1_macro_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    k = out.shape[1]
    cm = confusion(y, labels(out, pos), weights_of(y, weight), k)
    tp = np.diag(cm)
    f1 = ratio(2 * tp, cm.sum(axis=0) + cm.sum(axis=1))
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(f1[present].mean()) if present.any() else 0.0


def precision_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    tp, fp, _, _ = binary_counts(y, labels(out, pos), weights_of(y, weight), pos)
    return float(ratio(tp, tp + fp))


def recall_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    tp, _, fn, _ = binary_counts(y, labels(out, pos), weights_of(y, weight), pos)
    return float(ratio(tp, tp + fn))


def auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney U statistic (ties count half, as in the ROC curve's area)."""
    from scipy.stats import rankdata

    ranks = rankdata(score)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    """Binary: the positive class's AUC; several: one-vs-rest weighted by prevalence, as
    scikit-learn's ``roc_auc_score(multi_class="ovr", average="weighted")``. With row weights
    scikit-learn's own (weighted ranks are not worth the code); a class missing from the rows:
    balanced accuracy, so that a resample without it still scores."""
    k = out.shape[1]
    if weight is not None:
        return roc_auc_library(y, out, weight, pos)
    counts = np.bincount(y, minlength=k)
    present = int((counts > 0).sum())
    if k == 2 and present == 2:
        return auc(y == pos, out[:, pos])
    if present == k:
        probs = out / np.clip(out.sum(axis=1, keepdims=True), 1e-12, None)
        aucs = [auc(y == c, probs[:, c]) for c in range(k)]
        return float(np.dot(aucs, counts / counts.sum()))
    return balanced_fast(y, out, None, pos)


def log_loss_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    probs = out / np.clip(out.sum(axis=1, keepdims=True), 1e-12, None)
    p = np.clip(probs[np.arange(len(y)), y], EPS, 1 - EPS)
    w = weights_of(y, weight)
    return float(-(w * np.log(p)).sum() / w.sum())


def average_precision_fast(
    y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int
) -> float:
    """Step-wise area under the precision-recall curve, as scikit-learn's (ties in the score
    form one step)."""
    score = out[:, pos]
    order = np.argsort(-score, kind="mergesort")
    s, hit, w = score[order], (y[order] == pos), weights_of(y, weight)[order]
    tps, fps = np.cumsum(w * hit), np.cumsum(w * ~hit)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the end of each run of equal scores
    tps, fps = tps[last], fps[last]
    if tps[-1] <= 0:
        return 0.0
    precision, recall = tps / (tps + fps), tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def weighted_mean(values: np.ndarray, weight: np.ndarray | None) -> float:
    return float(np.average(values, weights=weight))


def r2_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    w = weights_of(y, weight)
    mean = np.average(y, weights=w)
    total = float((w * (y - mean) ** 2).sum())
    residual = float((w * (y - out) ** 2).sum())
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


def rmse_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    return float(np.sqrt(weighted_mean((y - out) ** 2, weight)))


def mae_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    return weighted_mean(np.abs(y - out), weight)


def mape_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    return weighted_mean(np.abs(y - out) / np.maximum(np.abs(y), MAPE_EPS), weight)


def rmsle_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    """Predictions below 0 count as 0 (the target is non-negative: the job checks it)."""
    diff = np.log1p(y) - np.log1p(np.maximum(out, 0.0))
    return float(np.sqrt(weighted_mean(diff**2, weight)))


# --- scikit-learn's scorers (what the fast ones agree with; the held-out report uses them) ---


def sk_binary(name: str) -> Callable[..., float]:
    def score(y_true: Any, y_pred: Any, weight: Any = None, pos: Any = None) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(y_true, y_pred, sample_weight=weight, pos_label=pos,
                                            zero_division=0))  # fmt: skip

    return score


def sk_plain(name: str) -> Callable[..., float]:
    def score(y_true: Any, y_pred: Any, weight: Any = None, pos: Any = None) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(y_true, y_pred, sample_weight=weight))

    return score


def roc_auc_library(y: Any, proba: Any, weight: Any = None, pos: Any = 1) -> float:
    from sklearn import metrics

    y = np.asarray(y)
    if proba.shape[1] == 2:
        return float(metrics.roc_auc_score(y == pos, proba[:, pos], sample_weight=weight))
    labels = list(range(proba.shape[1]))
    return float(metrics.roc_auc_score(y, proba, multi_class="ovr", average="weighted",
                                       sample_weight=weight, labels=labels))  # fmt: skip


def log_loss_library(y: Any, proba: Any, weight: Any = None, pos: Any = None) -> float:
    from sklearn import metrics

    return float(metrics.log_loss(y, proba, sample_weight=weight,
                                  labels=list(range(proba.shape[1]))))  # fmt: skip


def average_precision_library(y: Any, proba: Any, weight: Any = None, pos: Any = 1) -> float:
    from sklearn import metrics

    return float(metrics.average_precision_score(np.asarray(y) == pos, proba[:, pos],
                                                 sample_weight=weight))  # fmt: skip


def f1_macro_library(y: Any, pred: Any, weight: Any = None, pos: Any = None) -> float:
    from sklearn import metrics

    return float(metrics.f1_score(y, pred, average="macro", sample_weight=weight,
                                  zero_division=0))  # fmt: skip


def rmsle_library(y: Any, pred: Any, weight: Any = None, pos: Any = None) -> float:
    from sklearn import metrics

    return float(metrics.root_mean_squared_log_error(y, np.maximum(pred, 0.0),
                                                     sample_weight=weight))  # fmt: skip
