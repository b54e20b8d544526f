"""How a job is judged: which rows are held out, and the folds the search validates on.

Three schemes (DESIGN, "The user's problem"): ``random`` (stratified for classes), ``time``
(a `timeColumn`: the held-out rows are the latest 20 %, and every fold validates on rows later
than all the rows it is fitted on: an expanding window), ``group`` (a `groupColumn`: held-out
rows and folds are whole groups). With both columns, time decides the split.

Rows with equal times never straddle a time split: the rows of one day (say) are all fitted on
or all validated on, or a model that remembers days would be rewarded."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedKFold,
    train_test_split,
)

from modeltrain.constants import Task
from modeltrain.exceptions import TrainingError

RANDOM, TIME, GROUP = "random", "time", "group"
HOLDOUT_SHARE = 0.2  # of all rows: the held-out rows
MIN_GROUPS = 5  # a group column with fewer distinct groups cannot hold whole groups out
FORWARD_SHARE = 0.5  # time folds validate on this latest share of the rows they are given
Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Split:
    """The rows' scheme and, aligned with the rows, their times (as numbers) or group codes."""

    scheme: str = RANDOM
    column: str | None = None
    order: np.ndarray | None = None  # TIME: float per row (seconds, or the column's numbers)
    groups: np.ndarray | None = None  # GROUP: int code per row

    def take(self, rows: np.ndarray) -> Split:
        """The same scheme on a subset of the rows (positions)."""
        return replace(
            self,
            order=None if self.order is None else self.order[rows],
            groups=None if self.groups is None else self.groups[rows],
        )

    def holdout(self, y: np.ndarray, task: Task, share: float = HOLDOUT_SHARE):
        """(fitted rows, held-out rows) as sorted positions."""
        index = np.arange(len(y))
        if self.scheme == TIME:
            assert self.order is not None
            later = _latest(self.order, share)
            return index[~later], index[later]
        if self.scheme == GROUP:
            splitter = GroupShuffleSplit(n_splits=1, test_size=share, random_state=0)
            fit, held = next(splitter.split(index, groups=self.groups))
            return np.sort(fit), np.sort(held)
        counts = np.unique(y, return_counts=True)[1] if task == Task.CLASSIFICATION else None
        stratify = y if counts is not None and counts.min() >= 2 else None
        fit, held = train_test_split(index, test_size=share, random_state=0, stratify=stratify)
        return np.sort(fit), np.sort(held)

    def folds(self, y: np.ndarray, task: Task, k: int) -> tuple[Folds, str]:
        """k folds of these rows (k = 1: one validation split of HOLDOUT_SHARE)."""
        rows = len(y)
        if k == 1:
            fit, val = self.holdout(y, task)
            return [(fit, val)], "holdout" if self.scheme == RANDOM else f"{self.scheme} holdout"
        if self.scheme == TIME:
            assert self.order is not None
            folds = _forward_folds(self.order, k)
            return folds, f"{len(folds)} forward folds (expanding window)"
        if self.scheme == GROUP:
            assert self.groups is not None
            n_groups = len(np.unique(self.groups))
            k = min(k, n_groups)
            splitter: Any = GroupKFold(n_splits=k, shuffle=True, random_state=0)
            return list(splitter.split(np.zeros(rows), y, self.groups)), f"{k}-fold group folds"
        if task == Task.CLASSIFICATION and np.bincount(y).min() >= k:
            splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
        else:
            splitter = KFold(n_splits=k, shuffle=True, random_state=0)
        return list(splitter.split(np.zeros(rows), y)), f"{k}-fold cross-validation"


def _latest(order: np.ndarray, share: float) -> np.ndarray:
    """The rows at or after the time from which about ``share`` of the rows lie: at least one
    time held out, at least one left to fit on."""
    ranked = np.sort(order)
    cut = ranked[min(len(ranked) - 1, int(len(ranked) * (1 - share)))]
    if cut <= ranked[0]:
        return order > ranked[0]
    return order >= cut


def _forward_folds(order: np.ndarray, k: int) -> Folds:
    """Expanding-window folds over the later rows: the latest FORWARD_SHARE of the rows cut into
    k blocks at time boundaries; fold i fits on every row before block i and validates on it.
    Each fit then sees at least half the rows, nearer the final model, which sees all of them,
    than a first fold fitted on the first sixth (k + 1 equal blocks), where every model is
    judged on what it makes of a few rows."""
    ranked = np.sort(order)
    first = len(ranked) * (1 - FORWARD_SHARE)
    starts = [int(first + len(ranked) * FORWARD_SHARE * j / k) for j in range(k)]
    bounds = sorted({float(ranked[min(i, len(ranked) - 1)]) for i in starts})
    bounds = [b for b in bounds if b > ranked[0]]
    index = np.arange(len(order))
    folds = []
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else np.inf
        fit, val = index[order < start], index[(order >= start) & (order < end)]
        if len(fit) and len(val):
            folds.append((fit, val))
    if not folds:
        raise TrainingError("the time column has too few distinct times to validate forward")
    return folds


def time_values(values: pd.Series, column: str) -> tuple[np.ndarray, pd.Series]:
    """A time column as sortable numbers (and as read, for reports): numbers as they are,
    anything else parsed as dates. Missing or unparsable values fail the job naming it."""
    if values.isna().any():
        raise TrainingError(
            f"timeColumn {column!r} has {int(values.isna().sum())} rows without a time"
        )
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype="float64"), values
    parsed = pd.to_datetime(values.astype(str), errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        example = values[bad].iloc[0]
        raise TrainingError(
            f"timeColumn {column!r} is not a time: {int(bad.sum())} values such as {example!r} "
            "are neither numbers nor dates"
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    seconds = parsed.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    return seconds.astype("float64"), parsed


def group_codes(values: pd.Series, column: str) -> np.ndarray:
    """A group column as integer codes (missing values are one group of their own); fewer
    than MIN_GROUPS groups fail the job naming it."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if len(uniques) < MIN_GROUPS:
        raise TrainingError(
            f"groupColumn {column!r} has {len(uniques)} groups; at least {MIN_GROUPS} are "
            "needed to hold whole groups out"
        )
    return codes.astype("int64")


def describe(split: Split, held: np.ndarray, shown_times: pd.Series | None) -> dict[str, Any]:
    """``result.validation``: the scheme and what the held-out rows are."""
    out: dict[str, Any] = {"scheme": split.scheme, "heldOutRows": int(len(held))}
    if split.column is not None:
        out["column"] = split.column
    if split.scheme == TIME and shown_times is not None and len(held):
        times = shown_times.iloc[held]
        out["heldOutFrom"], out["heldOutTo"] = _shown(times.min()), _shown(times.max())
    if split.scheme == GROUP and split.groups is not None:
        out["heldOutGroups"] = int(len(np.unique(split.groups[held])))
        out["groups"] = int(len(np.unique(split.groups)))
    return out


def _shown(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if isinstance(value, np.generic) else value
