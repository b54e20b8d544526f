"""LinearEncoder: the featurizer's matrix made fit for a linear model — missing numbers imputed
with the median (plus a was-missing indicator), numbers standardised, category codes one-hot.

It does what SimpleImputer + StandardScaler + OneHotEncoder in a ColumnTransformer do, in a
few numpy operations: on one row that pipeline took 4–6 ms (profiled, mostly column dispatch
and input checks), this takes microseconds, in every server that loads the model."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

MAX_ONE_HOT = 30  # most frequent codes of a category given a column each; the rest share one
MIN_FREQUENCY = 2  # a code seen fewer times than this shares the "other" column


class LinearEncoder(TransformerMixin, BaseEstimator):
    def __init__(self, categorical: list[int] | None = None) -> None:
        self.categorical = categorical

    def fit(self, X: np.ndarray, y: Any = None) -> LinearEncoder:
        cats = list(self.categorical or [])
        self.numeric_ = [i for i in range(X.shape[1]) if i not in cats]
        num = X[:, self.numeric_]
        missing = np.isnan(num)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(num, axis=0) if num.size else np.zeros(0)
        self.medians_ = np.nan_to_num(medians, nan=0.0)
        self.indicate_ = np.flatnonzero(missing.any(axis=0))  # columns that had gaps
        filled = np.where(missing, self.medians_, num)
        self.means_ = filled.mean(axis=0) if len(filled) else np.zeros(len(self.numeric_))
        std = filled.std(axis=0) if len(filled) else np.ones(len(self.numeric_))
        self.scales_ = np.where(std > 0, std, 1.0)
        self.levels_: list[np.ndarray] = []
        for i in cats:
            values, counts = np.unique(X[:, i][~np.isnan(X[:, i])], return_counts=True)
            frequent = values[counts >= MIN_FREQUENCY]
            order = np.argsort(-counts[counts >= MIN_FREQUENCY], kind="stable")
            self.levels_.append(np.sort(frequent[order][:MAX_ONE_HOT]))
        self.output_mean_ = self.transform(X).mean(axis=0)  # what a linear model's SHAP needs
        return self

    def output_sources(self) -> list[int]:
        """The input column each output column is made from."""
        sources = list(self.numeric_) + [self.numeric_[i] for i in self.indicate_]
        for i, levels in zip(self.categorical or [], self.levels_, strict=True):
            sources += [i] * (len(levels) + 2)
        return sources

    def transform(self, X: np.ndarray) -> np.ndarray:
        num = X[:, self.numeric_]
        missing = np.isnan(num)
        scaled = (np.where(missing, self.medians_, num) - self.means_) / self.scales_
        parts = [scaled, missing[:, self.indicate_].astype("float64")]
        for i, levels in zip(self.categorical or [], self.levels_, strict=True):
            column = X[:, i]
            hot = np.zeros((len(X), len(levels) + 2))  # levels, "other", missing
            position = np.searchsorted(levels, column)
            known = (position < len(levels)) & (
                levels[np.minimum(position, max(len(levels) - 1, 0))] == column
                if len(levels)
                else np.zeros(len(X), dtype=bool)
            )
            rows = np.arange(len(X))
            hot[rows[known], position[known]] = 1.0
            gap = np.isnan(column)
            hot[rows[gap], len(levels) + 1] = 1.0
            hot[rows[~known & ~gap], len(levels)] = 1.0
            parts.append(hot)
        return np.hstack(parts)
