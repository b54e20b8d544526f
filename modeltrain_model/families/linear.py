"""Linear models: logistic regression for classes, ridge for values, on the LinearEncoder's
standardised numbers and one-hot categories (scikit-learn is imported when one is built)."""

from __future__ import annotations

from typing import Any

import numpy as np

from modeltrain_model import CLASSIFICATION
from modeltrain_model.attribution import ExplanationUnavailable, in_probability_space, link
from modeltrain_model.families.base import Attribution, Family, FitContext, Space

LOGISTIC_MAX_ITER = 500


class Linear(Family):
    name = "linear"
    aliases = ("logistic_regression", "ridge")  # its leaderboard names, one per task
    trusted_types = ("modeltrain_model.linear_encoder.LinearEncoder",)
    weight_keyword = "model__sample_weight"  # its estimator is a Pipeline

    def label(self, task: str) -> str:
        return self.aliases[0] if _classify(task) else self.aliases[1]

    def defaults(self, task: str, space: Space, columns: int) -> dict[str, Any]:
        return {"C": 1.0} if _classify(task) else {"alpha": 1.0}

    def suggest(self, trial: Any, task: str, space: Space) -> dict[str, Any]:
        if _classify(task):
            return {"C": trial.suggest_float("linear.C", 1e-3, 100.0, log=True)}
        return {"alpha": trial.suggest_float("linear.alpha", 1e-3, 1000.0, log=True)}

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import Pipeline

        from modeltrain_model.linear_encoder import LinearEncoder

        model = (
            LogisticRegression(
                max_iter=LOGISTIC_MAX_ITER, C=params["C"], class_weight=params.get("class_weight")
            )
            if ctx.classify
            else Ridge(alpha=params["alpha"])
        )
        return Pipeline([("prep", LinearEncoder(ctx.categorical)), ("model", model)])

    def owns(self, member: Any) -> bool:
        steps = getattr(member, "named_steps", None)
        return steps is not None and type(steps.get("prep")).__name__ == "LinearEncoder"

    def explain(self, member: Any, at: Attribution) -> tuple[np.ndarray, np.ndarray]:
        """Exact SHAP of a linear model, ``coef * (x - mean(x))``, in margin space."""
        encoder, linear = member.named_steps["prep"], member.named_steps["model"]
        mean = getattr(encoder, "output_mean_", None)
        if mean is None:
            raise ExplanationUnavailable(
                "this model version was trained before explanations were added; train it again"
            )
        M = at.M
        Z = encoder.transform(M) - mean
        S = np.zeros((Z.shape[1], M.shape[1]))  # encoded column -> featurizer feature
        S[np.arange(Z.shape[1]), encoder.output_sources()] = 1.0
        coef = np.atleast_2d(linear.coef_)  # outputs × encoded columns
        intercept = np.atleast_1d(linear.intercept_)
        base = coef @ mean + intercept  # the expected margin(s)
        contrib = Z[:, None, :] * coef[None, :, :] @ S  # rows × outputs × features
        if not at.classify:
            return link(np.full(len(M), base[0]), contrib[:, 0, :], at.log_target)
        if coef.shape[0] == 1:  # binary: the margin of class 1
            Phi = np.stack([np.zeros_like(contrib[:, 0, :]), contrib[:, 0, :]], axis=2)
            B = np.tile([0.0, base[0]], (len(M), 1))
        else:
            Phi, B = contrib.transpose(0, 2, 1), np.tile(base, (len(M), 1))
        return in_probability_space(B, Phi, linear, at.n_classes, at.k)


def _classify(task: str) -> bool:
    return task == CLASSIFICATION
