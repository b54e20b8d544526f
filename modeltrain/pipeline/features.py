"""Column typing: which raw columns a model uses, as what, and which it drops (with the reason).

Types come from the data: numbers and booleans; categories (high-cardinality ones keep their
most frequent values); datetimes (text that parses as dates, expanded into parts later); free
text (text of several words per value, turned into simple statistics later); identifiers and
constant or empty columns are dropped."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

ID_LIKE_MIN_UNIQUE = 50  # distinct values before an all-unique column counts as an ID
HIGH_CARDINALITY_SHARE = 0.5  # distinct/rows above which a text column is dropped as ID-like
DATETIME_PARSED_SHARE = 0.9  # share of a column's values that must parse as dates
TEXT_MIN_WORDS = 3.0  # mean words per value from which a text column is free text
TYPING_SAMPLE_ROWS = 2000  # values looked at to tell dates and free text


@dataclass
class ColumnPlan:
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    datetime: dict[str, str] = field(default_factory=dict)  # column -> strftime format
    text: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # column -> reason

    @property
    def used(self) -> list[str]:
        """The raw columns the model reads, in the order the featurizer reads them."""
        return self.numeric + self.categorical + list(self.datetime) + self.text

    def kinds(self) -> dict[str, str]:
        """column -> numeric | categorical | datetime | text (for the reports)."""
        out = dict.fromkeys(self.numeric, "numeric")
        out.update(dict.fromkeys(self.categorical, "categorical"))
        out.update(dict.fromkeys(self.datetime, "datetime"))
        out.update(dict.fromkeys(self.text, "text"))
        return out


def _datetime_format(values: pd.Series) -> str | None:
    """The format a text column's dates are written in, when nearly all of them are dates."""
    sample = values.head(TYPING_SAMPLE_ROWS)
    first = str(sample.iloc[0])
    if not any(sep in first for sep in "-/:.") or not any(ch.isdigit() for ch in first):
        return None
    best, best_share = None, 0.0
    for dayfirst in (False, True):  # 01/02/2024: month first unless the data says otherwise
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fmt = guess_datetime_format(first, dayfirst=dayfirst)
        if fmt is None or fmt == best:
            continue
        share = float(pd.to_datetime(sample, format=fmt, errors="coerce").notna().mean())
        if share > best_share:
            best, best_share = fmt, share
    return best if best_share >= DATETIME_PARSED_SHARE else None


def _is_row_number(col: pd.Series) -> bool:
    """An integral column that counts the rows (0, 1, 2, … in some order of steps of one)."""
    values = col.dropna().to_numpy(dtype="float64")
    if len(values) < ID_LIKE_MIN_UNIQUE or len(np.unique(values)) != len(values):
        return False
    if not np.all(values == np.round(values)):
        return False
    ordered = np.sort(values)
    return bool(np.all(np.diff(ordered) == 1)) and bool(
        np.all(np.diff(values) > 0) or np.all(np.diff(values) < 0)
    )


def plan_columns(X: pd.DataFrame) -> ColumnPlan:
    plan = ColumnPlan()
    rows = len(X)
    for name in X.columns:
        col = X[name]
        values = col.dropna()
        distinct = values.nunique()
        if distinct == 0:
            plan.dropped[name] = "all values are missing"
        elif distinct == 1:
            plan.dropped[name] = "the column has a single value"
        elif pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            if _is_row_number(col):
                plan.dropped[name] = "looks like a row number (consecutive distinct integers)"
            else:
                plan.numeric.append(name)
        elif (fmt := _datetime_format(values.astype(str))) is not None:
            plan.datetime[name] = fmt
        elif _mean_words(values) >= TEXT_MIN_WORDS:
            plan.text.append(name)
        elif distinct >= ID_LIKE_MIN_UNIQUE and distinct > HIGH_CARDINALITY_SHARE * rows:
            plan.dropped[name] = f"looks like an identifier ({distinct} distinct values)"
        else:
            plan.categorical.append(name)
    return plan


def _mean_words(values: pd.Series) -> float:
    sample = values.head(TYPING_SAMPLE_ROWS).astype(str)
    return float(sample.str.split().str.len().mean())


def normalise_features(X: pd.DataFrame) -> pd.DataFrame:
    """Types the model's signature is built on: integers and bools become floats (so missing
    values are accepted at prediction time), everything else non-numeric becomes text."""
    out = {}
    for name in X.columns:
        col = X[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype("float64")
        else:
            out[name] = (
                col.astype(object)
                .where(col.notna(), None)
                .map(lambda v: v if v is None else str(v))
            )
    return pd.DataFrame(out, index=X.index)
