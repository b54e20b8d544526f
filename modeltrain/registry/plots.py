"""PNG plots of a trained model's held-out predictions: confusion matrix and ROC for classifiers,
predicted-vs-actual and residuals for regressors, the importance, and the mean |contribution|
per column (a SHAP summary bar chart)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay  # noqa: E402

from modeltrain.constants import Task  # noqa: E402

MAX_ROC_CLASSES = 10  # one curve per class up to this many classes


def plot_names(task: Task, with_importance: bool, with_explanations: bool = False) -> list[str]:
    """The plots a run of this task has (see plots())."""
    names = (
        ["confusion_matrix", "roc"]
        if task == Task.CLASSIFICATION
        else ["predicted_vs_actual", "residuals"]
    )
    names += ["feature_importance"] if with_importance else []
    return names + (["shap_summary"] if with_explanations else [])


def _figure() -> tuple[Figure, Any]:
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    return fig, ax


def plots(
    task: Task,
    holdout: dict[str, Any],
    importance: dict[str, float],
    explanations: dict[str, float] | None = None,
) -> dict[str, Figure]:
    """name -> figure; the caller saves and closes them."""
    figures: dict[str, Figure] = {}
    y_true, y_pred = holdout["y_true"], holdout["y_pred"]
    if task == Task.CLASSIFICATION:
        fig, ax = _figure()
        ConfusionMatrixDisplay.from_predictions(y_true, y_pred, ax=ax, colorbar=False)
        ax.set_title("Confusion matrix (held-out rows)")
        figures["confusion_matrix"] = fig
        if "proba" in holdout:
            fig, ax = _figure()
            classes = holdout["classes"]
            columns = [1] if len(classes) == 2 else range(min(len(classes), MAX_ROC_CLASSES))
            for i in columns:
                RocCurveDisplay.from_predictions(
                    np.asarray(y_true) == classes[i], holdout["proba"][:, i], ax=ax,
                    name=f"{classes[i]} vs rest" if len(classes) > 2 else str(classes[i]),
                )  # fmt: skip
            ax.set_title("ROC (held-out rows)")
            figures["roc"] = fig
    else:
        fig, ax = _figure()
        ax.scatter(y_true, y_pred, s=8, alpha=0.5)
        low, high = float(np.min(y_true)), float(np.max(y_true))
        ax.plot([low, high], [low, high], color="grey", linewidth=1)
        ax.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (held-out rows)")
        figures["predicted_vs_actual"] = fig
        fig, ax = _figure()
        residuals = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
        ax.scatter(y_pred, residuals, s=8, alpha=0.5)
        ax.axhline(0, color="grey", linewidth=1)
        ax.set(xlabel="predicted", ylabel="actual − predicted", title="Residuals (held-out rows)")
        figures["residuals"] = fig
    if importance:
        top = list(importance.items())[:20][::-1]
        fig, ax = _figure()
        ax.barh([name for name, _ in top], [value for _, value in top])
        ax.set(xlabel="share of importance", title="Feature importance")
        fig.tight_layout()
        figures["feature_importance"] = fig
    if explanations:
        top = list(explanations.items())[:20][::-1]
        fig, ax = _figure()
        ax.barh([name for name, _ in top], [value for _, value in top], color="#7a4fd6")
        ax.set(xlabel="mean |contribution| (SHAP)", title="SHAP summary (held-out rows)")
        fig.tight_layout()
        figures["shap_summary"] = fig
    return figures


def close(figures: dict[str, Figure]) -> None:
    for fig in figures.values():
        plt.close(fig)
