"""A version's input profile: for each column the model reads, the bins its training values fell
into and their shares — the yardstick that served rows are measured against (PSI).

The bins follow the featurizer's typing (pipeline/features.py): numbers get quantile bins
(deciles of the training values) plus a bin below the training minimum and one above its
maximum; dates the same on their time stamps; free text on its word counts; categories one bin
per frequent value, one for the other values seen in training, and one for values never seen.
Every column has a bin for missing values. One function (``Profile.bins``) puts values in
bins, for the training shares and for served rows alike, so both are counted the same way."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

PROFILE_VERSION = 1
QUANTILES = np.linspace(0.1, 0.9, 9)  # inner edges of the number bins (deciles)
TOP_CATEGORIES = 20  # categories with a bin of their own
SEEN_CATEGORIES_KEPT = 1000  # training values remembered to tell "unseen" from "other"
PSI_FLOOR = 1e-4  # a share of zero counts as this much (PSI is infinite otherwise)

NUMERIC_KINDS = ("numeric", "datetime", "text")


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    kind: str  # numeric | datetime | text | categorical
    shares: list[float]  # the training share of each bin (see labels())
    edges: list[float] | None = None  # number kinds: inner bin edges
    low: float | None = None  # number kinds: the training minimum and maximum
    high: float | None = None
    date_format: str | None = None  # datetime: how the values are written
    categories: list[str] | None = None  # categorical: the values with a bin of their own
    seen: list[str] | None = None  # categorical: every training value (None: too many)

    # --- bins ---------------------------------------------------------------------------
    def labels(self) -> list[str]:
        if self.kind == "categorical":
            return ["missing", *(self.categories or []), "other", "unseen"]
        edges = [self.low, *(self.edges or []), self.high]
        inner = [f"[{_num(a)}, {_num(b)})" for a, b in zip(edges, edges[1:], strict=False)]
        return ["missing", "below the training minimum", *inner, "above the training maximum"]

    @property
    def size(self) -> int:
        return len(self.labels())

    def outside_bins(self) -> list[int]:
        """The bins of values the training data never had (out of range, or unseen)."""
        last = self.size - 1
        return [last] if self.kind == "categorical" else [1, last]

    def bins(self, values: Iterable[Any]) -> np.ndarray:
        """The bin of each value."""
        if self.kind == "categorical":
            return self._category_bins(values)
        numbers = self._numbers(values)
        out = np.empty(len(numbers), dtype=np.int64)
        missing = np.isnan(numbers)
        out[missing] = 0
        present = numbers[~missing]
        inner = 2 + np.searchsorted(np.asarray(self.edges or [], dtype=float), present, "right")
        inner[present < (self.low or 0.0)] = 1
        inner[present > (self.high or 0.0)] = self.size - 1
        out[~missing] = inner
        return out

    def _numbers(self, values: Iterable[Any]) -> np.ndarray:
        if self.kind == "numeric":
            array = np.asarray(values)
            if array.dtype.kind in "fiub":
                return array.astype(float)
            return np.array([_float(v) for v in array], dtype=float)
        import pandas as pd  # vectorised parsing: 280,000 dates in milliseconds, not seconds

        series = pd.Series(list(values), dtype=object)
        if self.kind == "datetime":
            stamps = pd.to_datetime(series, format=self.date_format, errors="coerce")
            seconds = stamps.astype("int64").to_numpy(dtype=float) / 1e9
            return np.where(stamps.isna().to_numpy(), np.nan, seconds)
        words = series.where(series.notna() & (series != ""), None).str.split().str.len()
        return words.to_numpy(dtype=float, na_value=np.nan)  # text: words per value

    def _category_bins(self, values: Iterable[Any]) -> np.ndarray:
        """Missing (or empty) values in bin 0, the top categories in theirs, then "other" and,
        for values never seen in training, "unseen"."""
        from modeltrain_model.featurizer import lookup_each  # loaded with any model already

        index = {c: i for i, c in enumerate(self.categories or [], start=1)}
        other = len(index) + 1
        seen = set(self.seen) if self.seen is not None else None

        def bin_of(text: str) -> int:
            if text == "":
                return 0
            if text in index:
                return index[text]
            return other + 1 if seen is not None and text not in seen else other

        return lookup_each(values, bin_of, 0, dtype=np.int64)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Profile:
    rows: int  # training rows it was made from
    columns: list[ColumnProfile]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PROFILE_VERSION,
            "rows": self.rows,
            "columns": [c.to_json() for c in self.columns],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Profile:
        return cls(int(data["rows"]), [ColumnProfile(**c) for c in data["columns"]])


def build_profile(
    frame: Mapping[str, Any], kinds: Mapping[str, str], date_formats: Mapping[str, str]
) -> Profile:
    """The profile of training inputs: ``kinds`` maps each column the model reads to numeric,
    categorical, datetime or text (the featurizer's typing)."""
    columns = []
    rows = 0
    for name, kind in kinds.items():
        values = np.asarray(frame[name], dtype=float if kind == "numeric" else object)
        rows = len(values)
        if kind == "categorical":
            column = _category_profile(name, values)
        else:
            column = _number_profile(name, kind, values, date_formats.get(name))
        counts = np.bincount(column.bins(values), minlength=column.size)
        shares = (counts / max(1, len(values))).round(6).tolist()
        columns.append(ColumnProfile(**{**column.__dict__, "shares": shares}))
    return Profile(rows, columns)


def _number_profile(name: str, kind: str, values: Any, date_format: str | None) -> ColumnProfile:
    draft = ColumnProfile(name, kind, [], edges=[], low=0.0, high=0.0, date_format=date_format)
    numbers = draft._numbers(values)
    present = numbers[~np.isnan(numbers)]
    if len(present) == 0:
        return draft
    edges = np.unique(np.quantile(present, QUANTILES))
    low, high = float(present.min()), float(present.max())
    edges = edges[(edges > low) & (edges < high)]
    return ColumnProfile(
        name, kind, [], edges=edges.tolist(), low=low, high=high, date_format=date_format
    )


def _category_profile(name: str, values: np.ndarray) -> ColumnProfile:
    import pandas as pd

    series = pd.Series(np.asarray(values, dtype=object))
    present = series[series.notna() & (series != "")].astype(str)
    counts = present.value_counts().to_dict()
    ranked = sorted(counts, key=lambda c: (-counts[c], c))
    seen = sorted(counts) if len(counts) <= SEEN_CATEGORIES_KEPT else None
    return ColumnProfile(name, "categorical", [], categories=ranked[:TOP_CATEGORIES], seen=seen)


def psi(expected: list[float], counts: np.ndarray) -> float:
    """Population stability index of served bin counts against the training shares."""
    total = counts.sum()
    if total == 0:
        return 0.0
    e = np.maximum(np.asarray(expected, dtype=float), PSI_FLOOR)
    a = np.maximum(counts / total, PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


# --- values ----------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
