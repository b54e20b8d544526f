"""Which task a target column asks for, and cleaning of the target."""

from __future__ import annotations

import pandas as pd

from modeltrain.constants import MAX_AUTO_CLASSES, MIN_TRAIN_ROWS, Task
from modeltrain.exceptions import TrainingError


def detect_task(y: pd.Series, requested: Task = Task.AUTO) -> Task:
    """`auto`: a non-numeric target, or an integer one with few distinct values, is classes."""
    if requested != Task.AUTO:
        return requested
    values = y.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return Task.CLASSIFICATION
    integral = pd.api.types.is_integer_dtype(values) or bool((values == values.round()).all())
    if integral and values.nunique() <= min(MAX_AUTO_CLASSES, max(2, len(values) // 5)):
        return Task.CLASSIFICATION
    return Task.REGRESSION


def clean_target(df: pd.DataFrame, target: str, task: Task) -> pd.DataFrame:
    """Drop rows without a target; refuse targets there is nothing to learn from."""
    rows = df[df[target].notna()]
    if len(rows) < MIN_TRAIN_ROWS:
        raise TrainingError(
            f"the target column {target!r} has {len(rows)} usable rows; "
            f"at least {MIN_TRAIN_ROWS} are needed"
        )
    if task == Task.REGRESSION:
        if not pd.api.types.is_numeric_dtype(rows[target]):
            numeric = pd.to_numeric(rows[target], errors="coerce")
            if numeric.isna().any():
                raise TrainingError(
                    f"task is regression but the target column {target!r} is not numeric"
                )
            rows = rows.assign(**{target: numeric})
        if rows[target].nunique() < 2:
            raise TrainingError(
                f"the target column {target!r} has a single value; there is nothing to learn"
            )
        return rows
    classes = rows[target].value_counts()
    if len(classes) < 2:
        raise TrainingError(
            f"the target column {target!r} has a single class ({classes.index[0]!r}); "
            "a classifier needs at least two"
        )
    return rows
