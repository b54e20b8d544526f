"""Ensemble: the model step of every registered pipeline — one fitted candidate or a weighted
average of several (modeltrain.pipeline.selection picks the weights).

It predicts with LightGBM's booster directly: the scikit-learn wrapper's input checks cost
about 1 ms per call (profiled on one row), the booster itself 0.1 ms."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble._forest import BaseForest, ForestClassifier
from sklearn.utils.metaestimators import available_if

from modeltrain_model import CLASSIFICATION, REGRESSION


class Bag(BaseEstimator):
    """One configuration's cross-validation models, averaged: each was fitted on all folds but
    one (and stopped early on that one), so together they saw every row, and their average
    varies less than one model fitted on all of them (pipeline/final.py decides when)."""

    def __init__(self, models: list[Any] | None = None) -> None:
        self.models = models

    def fit(self, X: Any = None, y: Any = None) -> Bag:
        return self  # its models arrive fitted

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.models)


def member_output(model: Any, X: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    """A fitted member's prediction: class probabilities (rows × classes, classes 0..k-1)
    for classification, values for regression."""
    if isinstance(model, Bag):
        outputs = [member_output(m, X, task, n_classes) for m in model.models or []]
        return np.mean(outputs, axis=0)
    booster = getattr(model, "booster_", None)
    if isinstance(model, BaseForest):
        proba = _forest_output(model, X)
        if task == REGRESSION:
            return proba
    elif booster is not None:
        raw = booster.predict(X, num_threads=1 if len(X) <= 1000 else 0)
        if task == REGRESSION:
            return raw
        proba = np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw
    elif task == REGRESSION:
        return model.predict(X)
    else:
        proba = model.predict_proba(X)
    if proba.shape[1] == n_classes:
        return proba
    full = np.zeros((len(X), n_classes))  # a member that never saw some class
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full


def _forest_output(forest: BaseForest, X: np.ndarray) -> np.ndarray:
    """A forest's average over its trees, asking each tree's structure directly: the
    estimators' own predict() checks its input for every tree (about 0.2 ms a tree on one row,
    profiled: 19 ms for 100 trees), the structure answers in microseconds. The same values as
    the forest's predict / predict_proba (a unit test compares them)."""
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    total: np.ndarray | None = None
    for tree in forest.estimators_:
        values = tree.tree_.predict(X32)
        if isinstance(forest, ForestClassifier):
            values = values[:, : forest.n_classes_]
            values = values / np.clip(values.sum(axis=1, keepdims=True), 1e-12, None)
        else:
            values = values[:, 0]
        total = values if total is None else total + values
    assert total is not None, "a fitted forest has trees"
    return total / len(forest.estimators_)


def _is_classifier(ensemble: Ensemble) -> bool:
    return bool(ensemble.task == CLASSIFICATION)


class Ensemble(BaseEstimator):
    """Weighted average of fitted members' outputs; ``classes`` are the original labels of the
    encoded targets 0..k-1 (None for regression). ``log_target`` members were fitted on
    log1p(y) and are turned back with expm1. Two classes with a ``threshold``: the label is
    ``classes[positive]`` where its probability is at least the threshold (tuned for the job's
    metric), the other class elsewhere; probabilities are the same either way. Versions saved
    before thresholds existed have neither attribute: argmax, as they were trained."""

    def __init__(
        self,
        members: list[Any] | None = None,
        weights: list[float] | None = None,
        names: list[str] | None = None,
        task: str = "regression",
        classes: list[Any] | None = None,
        log_target: list[bool] | None = None,
        threshold: float | None = None,
        positive: int | None = None,
    ) -> None:
        self.members = members
        self.weights = weights
        self.names = names
        self.task = task
        self.classes = classes
        self.log_target = log_target
        self.threshold = threshold
        self.positive = positive

    @property
    def classes_(self) -> np.ndarray:
        if self.classes is None:
            raise AttributeError("a regressor has no classes")
        return np.asarray(self.classes)

    def fit(self, X: Any = None, y: Any = None) -> Ensemble:
        return self  # members arrive fitted

    def _average(self, X: np.ndarray) -> np.ndarray:
        task = str(self.task)
        n_classes = len(self.classes or [])
        total: np.ndarray | None = None
        for model, weight, logged in zip(
            self.members or [], self.weights or [], self.log_target or [], strict=True
        ):
            out = member_output(model, X, task, n_classes)
            if logged:
                out = np.expm1(out)
            total = weight * out if total is None else total + weight * out
        assert total is not None, "an ensemble has members"
        return total / sum(self.weights or [1.0])

    @available_if(_is_classifier)
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._average(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = self._average(X)
        if self.task == CLASSIFICATION:
            return self.classes_[self.class_positions(out)]
        return out

    def class_positions(self, proba: np.ndarray) -> np.ndarray:
        """The predicted class of each row of probabilities, as a position in ``classes``."""
        threshold = getattr(self, "threshold", None)
        if threshold is None or proba.shape[1] != 2:
            return proba.argmax(axis=1)
        positive = 1 if self.positive is None else int(self.positive)
        return np.where(proba[:, positive] >= threshold, positive, 1 - positive)

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.members)
