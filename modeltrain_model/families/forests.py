"""Random forests and extremely randomised trees (scikit-learn's), explained by exact tree SHAP
from the ``shap`` library (imported on first use)."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from modeltrain_model import CLASSIFICATION
from modeltrain_model.attribution import link
from modeltrain_model.families.base import Attribution, Family, FitContext, Space

# Searched up to this many training rows unless named: above it fully grown trees make models
# that are slow to fit, load and predict, and gradient boosting wins anyway.
FOREST_MAX_ROWS = 20_000
FOREST_LEAF_ROWS = 2_000  # a forest's smallest leaf holds at least rows / this many rows


class _Forest(Family):
    max_rows = FOREST_MAX_ROWS
    trusted_types = ("sklearn.tree._tree.Tree",)
    _classes: tuple[str, str]  # scikit-learn's classifier and regressor, by name

    def defaults(self, task: str, space: Space, columns: int) -> dict[str, Any]:
        """scikit-learn's own default of features per split: √columns for classes, all for
        values."""
        share = min(1.0, max(0.1, columns**0.5 / columns)) if task == CLASSIFICATION else 1.0
        return {"n_estimators": 100, "max_features": share, "min_samples_leaf": _min_leaf(space)}

    def suggest(self, trial: Any, task: str, space: Space) -> dict[str, Any]:
        p, leaf = f"{self.name}.", _min_leaf(space)
        return {
            "n_estimators": trial.suggest_int(p + "n_estimators", 50, 300, log=True),
            "max_features": trial.suggest_float(p + "max_features", 0.1, 1.0),
            "min_samples_leaf": trial.suggest_int(
                p + "min_samples_leaf", leaf, leaf * 20, log=True
            ),
        }

    def work(self, params: dict[str, Any]) -> float:
        """Its trees times the share of features each split weighs."""
        return float(params.get("n_estimators", 100)) * float(params.get("max_features", 1.0))

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from sklearn import ensemble

        cls = getattr(ensemble, self._classes[0] if ctx.classify else self._classes[1])
        return cls(n_jobs=ctx.threads or -1, random_state=0, **params)

    def owns(self, member: Any) -> bool:
        return type(member).__name__ in self._classes

    def explain(self, member: Any, at: Attribution) -> tuple[np.ndarray, np.ndarray]:
        """Exact tree SHAP, already in probability (or value) space."""
        M = at.M
        explainer = _tree_explainer(member)
        values = np.asarray(explainer.shap_values(M, check_additivity=False))
        expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
        if not at.classify:
            values = values.reshape(len(M), M.shape[1])
            return link(np.full(len(M), expected[0]), values, at.log_target)
        if values.ndim == 2:  # one class seen: a (rows × features) array
            values = values[:, :, None]
        rows = np.arange(len(M))
        base, contrib = np.zeros(len(M)), np.zeros((len(M), M.shape[1]))
        for column, label in enumerate(np.asarray(member.classes_, dtype=int)):
            hit = at.k == label
            base[hit] = expected[column]
            contrib[hit] = values[rows[hit], :, column]
        return base, contrib


class ExtraTrees(_Forest):
    name = "extra_trees"
    _classes = ("ExtraTreesClassifier", "ExtraTreesRegressor")


class RandomForest(_Forest):
    name = "random_forest"
    _classes = ("RandomForestClassifier", "RandomForestRegressor")


def _min_leaf(space: Space) -> int:
    return max(1, space.rows // FOREST_LEAF_ROWS)


# shap's explainer per forest object, made once (its copy of the trees is costly); kept beside
# the forest, not on it, so that the model saved after training holds no shap object.
_EXPLAINERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _tree_explainer(forest: Any) -> Any:
    explainer = _EXPLAINERS.get(forest)
    if explainer is None:
        import shap  # imported on first use: it takes a second and only forests need it

        explainer = shap.TreeExplainer(forest, feature_perturbation="tree_path_dependent")
        _EXPLAINERS[forest] = explainer
    return explainer
