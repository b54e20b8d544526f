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

from modeltrain import scorers as sc
from modeltrain.constants import Task
from modeltrain.scorers import Fast

PROBABILITIES, LABELS, VALUES = "probabilities", "labels", "values"


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


C, R = Task.CLASSIFICATION, Task.REGRESSION
METRICS: tuple[Metric, ...] = (
    Metric("roc_auc", C, True, PROBABILITIES, sc.roc_auc_fast, sc.roc_auc_library,
           help="area under the ROC curve (default for classes)"),
    Metric("log_loss", C, False, PROBABILITIES, sc.log_loss_fast, sc.log_loss_library,
           lightgbm=("binary_logloss", "multi_logloss"), help="cross-entropy of the probabilities"),
    Metric("accuracy", C, True, LABELS, sc.accuracy_fast, sc.sk_plain("accuracy_score"),
           tunes_threshold=True, help="share of right labels"),
    Metric("balanced_accuracy", C, True, LABELS, sc.balanced_fast,
           sc.sk_plain("balanced_accuracy_score"), tunes_threshold=True,
           help="mean recall over the classes"),
    Metric("f1", C, True, LABELS, sc.on_labels(sc.f1), sc.sk_binary("f1_score"), binary_only=True,
           tunes_threshold=True, help="F1 of the positive class"),
    Metric("f1_macro", C, True, LABELS, sc.f1_macro_fast, sc.f1_macro_library,
           help="F1 averaged over the classes"),
    Metric("precision", C, True, LABELS, sc.precision_fast, sc.sk_binary("precision_score"),
           binary_only=True, help="precision of the positive class (labels at 0.5)"),
    Metric("recall", C, True, LABELS, sc.recall_fast, sc.sk_binary("recall_score"),
           binary_only=True, help="recall of the positive class (labels at 0.5)"),
    Metric("average_precision", C, True, PROBABILITIES, sc.average_precision_fast,
           sc.average_precision_library, binary_only=True, lightgbm=("average_precision", None),
           help="area under the precision-recall curve of the positive class"),
    Metric("mcc", C, True, LABELS, sc.on_labels(sc.mcc), sc.sk_plain("matthews_corrcoef"),
           binary_only=True, tunes_threshold=True, help="Matthews correlation coefficient"),
    Metric("r2", R, True, VALUES, sc.r2_fast, sc.sk_plain("r2_score"),
           help="coefficient of determination (default for values)"),
    Metric("rmse", R, False, VALUES, sc.rmse_fast, sc.sk_plain("root_mean_squared_error"),
           lightgbm=("l2", "l2"), help="root mean squared error"),
    Metric("mae", R, False, VALUES, sc.mae_fast, sc.sk_plain("mean_absolute_error"),
           lightgbm=("l1", "l1"), objectives=("l1",), help="mean absolute error"),
    Metric("mape", R, False, VALUES, sc.mape_fast, sc.sk_plain("mean_absolute_percentage_error"),
           lightgbm=("mape", "mape"), objectives=("mape",),
           help="mean absolute percentage error (a share, not %)"),
    Metric("rmsle", R, False, VALUES, sc.rmsle_fast, sc.rmsle_library, lightgbm=("l2", "l2"),
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
        return metric.library(y, sc.labels(output, pos, threshold), weight, pos)
    return metric.library(y, output, weight, pos)


def best_threshold(
    metric: Metric, y: np.ndarray, output: np.ndarray, weight: np.ndarray | None, pos: int
) -> tuple[float, float]:
    """(threshold on p(positive), the metric there) best for a label metric on these outputs:
    every cut between two distinct probabilities is tried at once (cumulative counts over
    the rows sorted by p(positive)); the threshold is the midpoint of the best cut, the lowest
    such cut on ties. Deterministic for given outputs."""
    formula = sc.BINARY_FORMULAS[metric.name]
    p = output[:, pos]
    order = np.argsort(-p, kind="mergesort")
    s, hit, w = p[order], (y[order] == pos), sc.weights_of(y, weight)[order]
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
