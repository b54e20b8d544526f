"""Held-out metrics, and which one decides between candidates."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

from modeltrain.constants import Task


def primary_metric(task: Task) -> str:
    return "roc_auc" if task == Task.CLASSIFICATION else "r2"


def classification_metrics(y_true, y_pred, proba: np.ndarray | None, classes) -> dict[str, float]:
    out = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
        "f1_macro": metrics.f1_score(y_true, y_pred, average="macro"),
    }
    if proba is not None:
        present = set(np.unique(y_true))
        if len(present) >= 2:
            if len(classes) == 2:
                out["roc_auc"] = metrics.roc_auc_score(y_true, proba[:, 1])
            elif present == set(classes):
                out["roc_auc"] = metrics.roc_auc_score(
                    y_true, proba, multi_class="ovr", average="weighted", labels=classes
                )
        out["log_loss"] = metrics.log_loss(y_true, proba, labels=classes)
    if "roc_auc" not in out:
        out["roc_auc"] = out["balanced_accuracy"]
    return {k: float(v) for k, v in out.items()}


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    return {
        "rmse": float(metrics.root_mean_squared_error(y_true, y_pred)),
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "r2": float(metrics.r2_score(y_true, y_pred)),
    }


def output_score(task: Task, y: np.ndarray, output: np.ndarray, n_classes: int) -> float:
    """The primary metric of raw model outputs: ROC AUC of class probabilities (classes
    encoded 0..k-1; one-vs-rest weighted for several), R² of regression values."""
    if task == Task.REGRESSION:
        return float(metrics.r2_score(y, output))
    present = np.unique(y)
    if n_classes == 2 and len(present) == 2:
        return float(metrics.roc_auc_score(y, output[:, 1]))
    if len(present) == n_classes:
        probs = output / np.clip(output.sum(axis=1, keepdims=True), 1e-12, None)
        return float(
            metrics.roc_auc_score(
                y, probs, multi_class="ovr", average="weighted", labels=list(range(n_classes))
            )
        )
    return float(metrics.balanced_accuracy_score(y, output.argmax(axis=1)))
