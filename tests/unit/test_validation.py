"""Validation schemes: time folds look forward only, group folds keep groups whole, and the
held-out rows are the latest (time) or whole groups (group)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modeltrain.constants import Task
from modeltrain.exceptions import TrainingError
from modeltrain.pipeline.trials import make_folds
from modeltrain.pipeline.validation import (
    GROUP,
    MIN_GROUPS,
    TIME,
    Split,
    group_codes,
    time_values,
)


def _times(rows: int = 600) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 120, rows).astype(float)  # 120 days, several rows a day, unsorted


@pytest.mark.parametrize("rows", [600, 25_000])
def test_every_time_fold_validates_on_rows_later_than_all_it_fits_on(rows):
    order = _times(rows)
    y = np.random.default_rng(1).normal(size=rows)
    folds, how = make_folds(y, Task.REGRESSION, split=Split(TIME, "day", order=order))
    assert folds and ("forward" in how or how == "time holdout")
    for fit, val in folds:
        assert len(fit) and len(val)
        assert order[fit].max() < order[val].min()  # strictly: a day is never on both sides


def test_the_time_holdout_is_the_latest_fifth_and_never_splits_a_time():
    order = _times()
    fit, held = Split(TIME, "day", order=order).holdout(np.zeros(len(order)), Task.REGRESSION)
    assert order[fit].max() < order[held].min()
    assert 0.15 <= len(held) / len(order) <= 0.25


def test_group_folds_and_the_group_holdout_keep_each_group_whole():
    groups = np.repeat(np.arange(40), 15)
    y = np.random.default_rng(2).integers(0, 2, len(groups))
    split = Split(GROUP, "site", groups=groups)
    fit, held = split.holdout(y, Task.CLASSIFICATION)
    assert not set(groups[fit]) & set(groups[held])
    folds, how = make_folds(y[fit], Task.CLASSIFICATION, split=split.take(fit))
    assert how == "5-fold group folds"
    inner = groups[fit]
    for f, v in folds:
        assert not set(inner[f]) & set(inner[v])


def test_time_columns_are_numbers_or_dates_and_anything_else_fails_naming_the_column():
    numbers, _ = time_values(pd.Series([2001, 1999, 2000]), "year")
    assert numbers.tolist() == [2001.0, 1999.0, 2000.0]
    seconds, shown = time_values(pd.Series(["2024-01-02", "2024-01-01"]), "day")
    assert seconds[0] - seconds[1] == 86_400 and str(shown.iloc[0]).startswith("2024-01-02")
    with pytest.raises(TrainingError, match="timeColumn 'day' is not a time"):
        time_values(pd.Series(["2024-01-02", "soon"]), "day")
    with pytest.raises(TrainingError, match="timeColumn 'day' has 1 rows without a time"):
        time_values(pd.Series(["2024-01-02", None]), "day")


def test_too_few_groups_fail_naming_the_column():
    with pytest.raises(
        TrainingError, match=f"groupColumn 'site' has 3 groups; at least {MIN_GROUPS}"
    ):
        group_codes(pd.Series(["a", "b", "c", "a"]), "site")
