"""The metrics a job may be judged by, declared once: name, task, direction, what they judge
(probabilities, labels or values), a fast scorer for the search and the scikit-learn scorer it
agrees with (a unit test compares them on random data), and for LightGBM the metric its early
stopping watches.

The search scores hundreds of outputs per job (trials, the noise test's resamples, ensemble
selection), so the fast scorers work on the raw outputs (class probabilities, rows × classes
with classes 0..k-1; or values) with numpy only: scikit-learn's input checks cost milliseconds
a call. Inside the search every score is *oriented* (``Metric.oriented``: higher is better, a
loss negated); what users see is the metric itself.

A binary job whose metric judges labels (``THRESHOLD_TUNED``) is scored at the threshold on
p(positive) that is best for it on the outputs scored (``best_threshold``): candidates are
compared at their own tuned threshold, and the final model keeps the one tuned on its
out-of-fold outputs. Light to import: the CLI and the option table read the names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from modeltrain.constants import Task

PROBABILITIES, LABELS, VALUES = "probabilities", "labels", "values"
EPS = 1e-15  # probabilities are clipped to [EPS, 1 - EPS] for the log loss (as scikit-learn)
MAPE_EPS = float(np.finfo(np.float64).eps)  # |y| below this counts as this (as scikit-learn)

# (y as 0..k-1 or values, output, weights or None, positive class index) -> the metric
Fast = Callable[[np.ndarray, np.ndarray, np.ndarray | None, int], float]


@dataclass(frozen=True)
class Metric:
    name: str
    task: Task
    higher_is_better: bool
    judges: str  # PROBABILITIES, LABELS or VALUES
    fast: Fast
    library: Callable[..., float]  # scikit-learn's: (y_true, labels/values/probs, weight, pos)
    binary_only: bool = False  # about one class: two classes only (positiveClass says which)
    tunes_threshold: bool = False  # binary: labels at the threshold best for the metric
    # LightGBM's early-stopping metric (binary; multiclass or regression); None: its
    # objective's own (log loss for classes, l2 for values: ROC AUC and R² keep those, the
    # smoother signal on small folds)
    lightgbm: tuple[str | None, str | None] = (None, None)  # (binary, multiclass)
    objectives: tuple[str, ...] = ()  # LightGBM regression objectives the search tries for it
    log_scale: bool = False  # the search tries fitting log1p(y) (a non-negative target)
    help: str = ""

    def oriented(self, value: float) -> float:
        """The value as the search compares it: higher is better."""
        return value if self.higher_is_better else -value

    def shown(self, oriented: float) -> float:
        return oriented if self.higher_is_better else -oriented

    def tuned(self, classes: int) -> bool:
        return self.tunes_threshold and classes == 2

    def stopping_metric(self, classes: int) -> str | None:
        """LightGBM's early-stopping metric for it (None: the objective's own)."""
        return self.lightgbm[0] if classes <= 2 else self.lightgbm[1]


# --- fast scorers ------------------------------------------------------------------------


def _w(y: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    return np.ones(len(y)) if weight is None else np.asarray(weight, dtype="float64")


def _labels(output: np.ndarray, positive: int, threshold: float | None = None) -> np.ndarray:
    """Class positions from probabilities: the likeliest, or for two classes p(positive) ≥
    threshold when one is given (as the model's Ensemble.class_positions)."""
    if threshold is not None and output.shape[1] == 2:
        return np.where(output[:, positive] >= threshold, positive, 1 - positive)
    return output.argmax(axis=1)


def _confusion(y: np.ndarray, pred: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y * k + pred, weights=w, minlength=k * k).reshape(k, k)


def _ratio(num: Any, den: Any) -> Any:
    return np.divide(num, den, out=np.zeros_like(np.asarray(num, dtype="float64")),
                     where=np.asarray(den) > 0)  # fmt: skip


def _binary_counts(y: np.ndarray, pred: np.ndarray, w: np.ndarray, pos: int):
    hit, said = y == pos, pred == pos
    return (w[hit & said].sum(), w[~hit & said].sum(), w[hit & ~said].sum(),
            w[~hit & ~said].sum())  # fmt: skip


def _f1(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _accuracy(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    return _ratio(tp + tn, tp + fp + fn + tn)


def _balanced(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    sens, spec = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    both = (np.asarray(tp + fn) > 0) & (np.asarray(tn + fp) > 0)
    return np.where(both, (sens + spec) / 2, sens + spec)


def _mcc(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return _ratio(tp * tn - fp * fn, den)


BINARY_FORMULAS = {"f1": _f1, "accuracy": _accuracy, "balanced_accuracy": _balanced, "mcc": _mcc}


def _on_labels(formula: Callable[..., Any]) -> Fast:
    def score(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
        pred = _labels(out, pos)
        return float(formula(*_binary_counts(y, pred, _w(y, weight), pos)))

    return score


def _accuracy_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    w = _w(y, weight)
    return float(w[_labels(out, pos) == y].sum() / w.sum())


def _balanced_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    k = out.shape[1]
    cm = _confusion(y, _labels(out, pos), _w(y, weight), k)
    seen = cm.sum(axis=1) > 0
    return float((np.diag(cm)[seen] / cm.sum(axis=1)[seen]).mean())


def _f1_macro_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    k = out.shape[1]
    cm = _confusion(y, _labels(out, pos), _w(y, weight), k)
    tp = np.diag(cm)
    f1 = _ratio(2 * tp, cm.sum(axis=0) + cm.sum(axis=1))
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(f1[present].mean()) if present.any() else 0.0


def _precision_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    tp, fp, _, _ = _binary_counts(y, _labels(out, pos), _w(y, weight), pos)
    return float(_ratio(tp, tp + fp))


def _recall_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    tp, _, fn, _ = _binary_counts(y, _labels(out, pos), _w(y, weight), pos)
    return float(_ratio(tp, tp + fn))


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney U statistic (ties count half, as in the ROC curve's area)."""
    from scipy.stats import rankdata

    ranks = rankdata(score)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    """Binary: the positive class's AUC; several: one-vs-rest weighted by prevalence, as
    scikit-learn's ``roc_auc_score(multi_class="ovr", average="weighted")``. With row weights
    scikit-learn's own (weighted ranks are not worth the code); a class missing from the rows:
    balanced accuracy, so that a resample without it still scores."""
    k = out.shape[1]
    if weight is not None:
        return _roc_auc_library(y, out, weight, pos)
    counts = np.bincount(y, minlength=k)
    present = int((counts > 0).sum())
    if k == 2 and present == 2:
        return _auc(y == pos, out[:, pos])
    if present == k:
        probs = out / np.clip(out.sum(axis=1, keepdims=True), 1e-12, None)
        aucs = [_auc(y == c, probs[:, c]) for c in range(k)]
        return float(np.dot(aucs, counts / counts.sum()))
    return _balanced_fast(y, out, None, pos)


def _log_loss_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    probs = out / np.clip(out.sum(axis=1, keepdims=True), 1e-12, None)
    p = np.clip(probs[np.arange(len(y)), y], EPS, 1 - EPS)
    w = _w(y, weight)
    return float(-(w * np.log(p)).sum() / w.sum())


def _average_precision_fast(
    y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int
) -> float:
    """Step-wise area under the precision-recall curve, as scikit-learn's (ties in the score
    form one step)."""
    score = out[:, pos]
    order = np.argsort(-score, kind="mergesort")
    s, hit, w = score[order], (y[order] == pos), _w(y, weight)[order]
    tps, fps = np.cumsum(w * hit), np.cumsum(w * ~hit)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # the end of each run of equal scores
    tps, fps = tps[last], fps[last]
    if tps[-1] <= 0:
        return 0.0
    precision, recall = tps / (tps + fps), tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _weighted_mean(values: np.ndarray, weight: np.ndarray | None) -> float:
    return float(np.average(values, weights=weight))


def _r2_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    w = _w(y, weight)
    mean = np.average(y, weights=w)
    total = float((w * (y - mean) ** 2).sum())
    residual = float((w * (y - out) ** 2).sum())
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


def _rmse_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    return float(np.sqrt(_weighted_mean((y - out) ** 2, weight)))


def _mae_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    return _weighted_mean(np.abs(y - out), weight)


def _mape_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    return _weighted_mean(np.abs(y - out) / np.maximum(np.abs(y), MAPE_EPS), weight)


def _rmsle_fast(y: np.ndarray, out: np.ndarray, weight: np.ndarray | None, pos: int) -> float:
    """Predictions below 0 count as 0 (the target is non-negative: the job checks it)."""
    diff = np.log1p(y) - np.log1p(np.maximum(out, 0.0))
    return float(np.sqrt(_weighted_mean(diff**2, weight)))


# --- scikit-learn's scorers (what the fast ones agree with; the held-out report uses them) ---


def _sk_binary(name: str) -> Callable[..., float]:
    def score(y_true: Any, y_pred: Any, weight: Any = None, pos: Any = None) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(y_true, y_pred, sample_weight=weight, pos_label=pos,
                                            zero_division=0))  # fmt: skip

    return score


def _sk_plain(name: str) -> Callable[..., float]:
    def score(y_true: Any, y_pred: Any, weight: Any = None, pos: Any = None) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(y_true, y_pred, sample_weight=weight))

    return score


def _roc_auc_library(y: Any, proba: Any, weight: Any = None, pos: Any = 1) -> float:
    from sklearn import metrics

    y = np.asarray(y)
    if proba.shape[1] == 2:
        return float(metrics.roc_auc_score(y == pos, proba[:, pos], sample_weight=weight))
    labels = list(range(proba.shape[1]))
    return float(metrics.roc_auc_score(y, proba, multi_class="ovr", average="weighted",
                                       sample_weight=weight, labels=labels))  # fmt: skip


def _log_loss_library(y: Any, proba: Any, weight: Any = None, pos: Any = None) -> float:
    from sklearn import metrics

    return float(metrics.log_loss(y, proba, sample_weight=weight,
                                  labels=list(range(proba.shape[1]))))  # fmt: skip


def _average_precision_library(y: Any, proba: Any, weight: Any = None, pos: Any = 1) -> float:
    from sklearn import metrics

    return float(metrics.average_precision_score(np.asarray(y) == pos, proba[:, pos],
                                                 sample_weight=weight))  # fmt: skip


def _f1_macro_library(y: Any, pred: Any, weight: Any = None, pos: Any = None) -> float:
    from sklearn import metrics

    return float(metrics.f1_score(y, pred, average="macro", sample_weight=weight,
                                  zero_division=0))  # fmt: skip


def _rmsle_library(y: Any, pred: Any, weight: Any = None, pos: Any = None) -> float:
    from sklearn import metrics

    return float(metrics.root_mean_squared_log_error(y, np.maximum(pred, 0.0),
                                                     sample_weight=weight))  # fmt: skip


C, R = Task.CLASSIFICATION, Task.REGRESSION
METRICS: tuple[Metric, ...] = (
    Metric("roc_auc", C, True, PROBABILITIES, _roc_auc_fast, _roc_auc_library,
           help="area under the ROC curve (default for classes)"),
    Metric("log_loss", C, False, PROBABILITIES, _log_loss_fast, _log_loss_library,
           lightgbm=("binary_logloss", "multi_logloss"), help="cross-entropy of the probabilities"),
    Metric("accuracy", C, True, LABELS, _accuracy_fast, _sk_plain("accuracy_score"),
           tunes_threshold=True, help="share of right labels"),
    Metric("balanced_accuracy", C, True, LABELS, _balanced_fast,
           _sk_plain("balanced_accuracy_score"), tunes_threshold=True,
           help="mean recall over the classes"),
    Metric("f1", C, True, LABELS, _on_labels(_f1), _sk_binary("f1_score"), binary_only=True,
           tunes_threshold=True, help="F1 of the positive class"),
    Metric("f1_macro", C, True, LABELS, _f1_macro_fast, _f1_macro_library,
           help="F1 averaged over the classes"),
    Metric("precision", C, True, LABELS, _precision_fast, _sk_binary("precision_score"),
           binary_only=True, help="precision of the positive class (labels at 0.5)"),
    Metric("recall", C, True, LABELS, _recall_fast, _sk_binary("recall_score"),
           binary_only=True, help="recall of the positive class (labels at 0.5)"),
    Metric("average_precision", C, True, PROBABILITIES, _average_precision_fast,
           _average_precision_library, binary_only=True, lightgbm=("average_precision", None),
           help="area under the precision-recall curve of the positive class"),
    Metric("mcc", C, True, LABELS, _on_labels(_mcc), _sk_plain("matthews_corrcoef"),
           binary_only=True, tunes_threshold=True, help="Matthews correlation coefficient"),
    Metric("r2", R, True, VALUES, _r2_fast, _sk_plain("r2_score"),
           help="coefficient of determination (default for values)"),
    Metric("rmse", R, False, VALUES, _rmse_fast, _sk_plain("root_mean_squared_error"),
           lightgbm=("l2", "l2"), help="root mean squared error"),
    Metric("mae", R, False, VALUES, _mae_fast, _sk_plain("mean_absolute_error"),
           lightgbm=("l1", "l1"), objectives=("l1",), help="mean absolute error"),
    Metric("mape", R, False, VALUES, _mape_fast, _sk_plain("mean_absolute_percentage_error"),
           lightgbm=("mape", "mape"), objectives=("mape",),
           help="mean absolute percentage error (a share, not %)"),
    Metric("rmsle", R, False, VALUES, _rmsle_fast, _rmsle_library, lightgbm=("l2", "l2"),
           log_scale=True, help="root mean squared log error (a non-negative target)"),
)  # fmt: skip
BY_NAME = {m.name: m for m in METRICS}
DEFAULT = {C: "roc_auc", R: "r2"}


def default_for(task: Task) -> Metric:
    return BY_NAME[DEFAULT[task]]


def names(task: Task | None = None) -> list[str]:
    return [m.name for m in METRICS if task is None or m.task == task]


def library_score(metric: Metric, y: Any, output: np.ndarray, weight: Any, pos: int,
                  threshold: float | None = None) -> float:  # fmt: skip
    """The metric by scikit-learn, from outputs as the fast scorer takes them; labels at the
    threshold on p(positive) when given, else the likeliest class."""
    if metric.judges == LABELS:
        return metric.library(y, _labels(output, pos, threshold), weight, pos)
    return metric.library(y, output, weight, pos)


def best_threshold(
    metric: Metric, y: np.ndarray, output: np.ndarray, weight: np.ndarray | None, pos: int
) -> tuple[float, float]:
    """(threshold on p(positive), the metric there) best for a label metric on these outputs:
    every cut between two distinct probabilities is tried at once (cumulative counts over
    the rows sorted by p(positive)); the threshold is the midpoint of the best cut, the lowest
    such cut on ties. Deterministic for given outputs."""
    formula = BINARY_FORMULAS[metric.name]
    p = output[:, pos]
    order = np.argsort(-p, kind="mergesort")
    s, hit, w = p[order], (y[order] == pos), _w(y, weight)[order]
    ends = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # labelling rows 0..end positive
    tp = np.r_[0.0, np.cumsum(w * hit)[ends]]
    fp = np.r_[0.0, np.cumsum(w * ~hit)[ends]]
    positives, negatives = tp[-1], fp[-1]
    values = np.asarray(formula(tp, fp, positives - tp, negatives - fp), dtype="float64")
    best = int(np.argmax(values))  # first maximum: the highest threshold among equals
    if best == 0:  # nothing positive: above every probability
        threshold = (s[0] + 1.0) / 2 if s[0] < 1.0 else float(np.nextafter(1.0, 2.0))
    else:  # between the lowest probability labelled positive and the next one below it
        last = ends[best - 1]
        below = s[last + 1] if last + 1 < len(s) else 0.0
        threshold = (s[last] + below) / 2
    return float(threshold), float(values[best])


class Judge:
    """A job's metric bound to its classes, positive class and row weights: called with
    targets and outputs (and the rows' weights), it answers the oriented score (higher is
    better), a tuned metric at its own best threshold."""

    def __init__(self, metric: Metric, n_classes: int = 0, positive: int = 1) -> None:
        self.metric, self.n_classes, self.positive = metric, n_classes, positive
        self.tuned = metric.tuned(n_classes)

    def value(self, y: np.ndarray, output: np.ndarray, weight: np.ndarray | None = None) -> float:
        """The metric itself (a loss as a loss)."""
        if self.tuned:
            return best_threshold(self.metric, y, output, weight, self.positive)[1]
        return self.metric.fast(y, output, weight, self.positive)

    def __call__(
        self, y: np.ndarray, output: np.ndarray, weight: np.ndarray | None = None
    ) -> float:
        return self.metric.oriented(self.value(y, output, weight))

    def threshold(
        self, y: np.ndarray, output: np.ndarray, weight: np.ndarray | None = None
    ) -> float | None:
        if not self.tuned:
            return None
        return best_threshold(self.metric, y, output, weight, self.positive)[0]


def held_out(
    task: Task,
    y: np.ndarray,
    output: np.ndarray,
    weight: np.ndarray | None = None,
    positive: int = 1,
    threshold: float | None = None,
) -> dict[str, float]:
    """Every metric of the task that applies, by scikit-learn, on the held-out rows: ``y`` as
    class positions (or values), ``output`` the model's probabilities (or predictions); label
    metrics at the model's decision threshold. Binary-only metrics need two classes, RMSLE a
    non-negative target; a metric the rows cannot give (a class missing from them) is left
    out."""
    out = {}
    classes = output.shape[1] if output.ndim == 2 else 0
    for metric in METRICS:
        if metric.task != task or (metric.binary_only and classes != 2):
            continue
        if metric.log_scale and float(np.min(y)) < 0:
            continue
        try:
            out[metric.name] = library_score(metric, y, output, weight, positive, threshold)
        except ValueError:
            continue
    return out
