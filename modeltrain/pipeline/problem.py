"""The user's problem read from the data: the task and metric a job is judged by, the positive
class, the rows' weights and validation scheme (DESIGN, "The user's problem"). What only the
data can tell fails the job here with an error naming the option (the upload refused what the
options alone could tell)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modeltrain import metrics
from modeltrain.constants import Task
from modeltrain.exceptions import TrainingError
from modeltrain.metrics import Metric
from modeltrain.pipeline.tasks import detect_task
from modeltrain.pipeline.validation import GROUP, RANDOM, TIME, Split, group_codes, time_values

WEIGHTS = "row weights (weightColumn)"  # reasons in droppedColumns
GROUPS = "the validation's groups (groupColumn)"


def task_and_metric(y: pd.Series, task: Task, metric_name: str | None) -> tuple[Task, Metric]:
    """The task (given; else the metric's; else told from the target) and the metric (given;
    else the task's default). A metric of the other task fails naming it."""
    metric = metrics.BY_NAME[metric_name] if metric_name else None
    if task == Task.AUTO and metric is not None:
        task = metric.task
    task = detect_task(y, task)
    if metric is None:
        return task, metrics.default_for(task)
    if metric.task != task:
        raise TrainingError(f"metric {metric.name!r} is for {metric.task.value}, not {task.value}")
    return task, metric


def check_metric(metric: Metric, y: pd.Series, classes: list[Any] | None) -> None:
    if metric.binary_only and classes is not None and len(classes) != 2:
        raise TrainingError(
            f"metric {metric.name!r} is about one class of two; the target has {len(classes)} "
            "classes (f1_macro is F1 over several)"
        )
    if metric.log_scale and float(y.min()) < 0:
        raise TrainingError(f"metric {metric.name!r} needs a non-negative target")


def positive_class(
    classes: list[Any] | None, y: pd.Series, asked: str | None, task: Task
) -> int | None:
    """The position in ``classes`` of the class binary metrics are about: the one asked for
    (matched by its text), else the rarer one (the later on a tie). None unless two classes."""
    if classes is None or len(classes) != 2:
        if asked is not None:
            kind = f"{len(classes)} classes" if classes is not None else task.value
            raise TrainingError(f"positiveClass applies to two classes; this job has {kind}")
        return None
    if asked is not None:
        texts = [str(c) for c in classes]
        if asked not in texts:
            raise TrainingError(
                f"positiveClass {asked!r} is no class of the target; the classes are "
                + ", ".join(map(repr, texts))
            )
        return texts.index(asked)
    counts = y.value_counts()
    rarer = [counts.get(c, 0) for c in classes]
    return 0 if rarer[0] < rarer[1] else 1


def row_weights(values: pd.Series, column: str) -> np.ndarray:
    """A weight column as floats: numbers, none missing or negative, not all zero."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        raise TrainingError(
            f"weightColumn {column!r} has {int(numbers.isna().sum())} missing or non-numeric "
            "values; every row needs a weight"
        )
    weights = numbers.to_numpy(dtype="float64")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise TrainingError(f"weightColumn {column!r} has negative or infinite weights")
    if not (weights > 0).any():
        raise TrainingError(f"weightColumn {column!r} is zero on every row")
    return weights


@dataclass
class RowRoles:
    """What the columns named by options make of the rows: weights, the validation scheme
    (times as read, for the report), and the columns that are no features for it."""

    weight: np.ndarray | None = None
    split: Split = field(default_factory=Split)
    shown_times: pd.Series | None = None
    not_features: dict[str, str] = field(default_factory=dict)  # column -> reason


def row_roles(df: pd.DataFrame, options: Any) -> RowRoles:
    """Weights from ``options.weight_column``; the split by ``time_column`` if given (time
    decides with both), else by ``group_column``, else random. Weights and groups are never
    features; the time column stays one (forward folds judge it)."""
    roles = RowRoles()
    if options.weight_column:
        roles.weight = row_weights(df[options.weight_column], options.weight_column)
        roles.not_features[options.weight_column] = WEIGHTS
    if options.group_column:
        roles.not_features[options.group_column] = GROUPS
    if options.time_column:
        order, shown = time_values(df[options.time_column], options.time_column)
        roles.split, roles.shown_times = Split(TIME, options.time_column, order=order), shown
    elif options.group_column:
        codes = group_codes(df[options.group_column], options.group_column)
        roles.split = Split(GROUP, options.group_column, groups=codes)
    else:
        roles.split = Split(RANDOM)
    return roles
