"""A job's data made ready to train on: the target cleaned, the task and metric decided, the
columns typed, the columns options name taken out of the features (and checked), the classes,
the positive class, the rows' weights and validation scheme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modeltrain.constants import Task
from modeltrain.exceptions import InvalidInput, TrainingError
from modeltrain.metrics import Judge, Metric
from modeltrain.pipeline.features import ColumnPlan, normalise_features, plan_columns
from modeltrain.pipeline.problem import (
    RowRoles,
    check_metric,
    positive_class,
    row_roles,
    task_and_metric,
)
from modeltrain.pipeline.tasks import clean_target
from modeltrain.training_options import check_columns
from modeltrain_model.featurizer import Featurizer

if TYPE_CHECKING:
    from modeltrain.pipeline.train import TrainOptions

EXCLUDED = "excluded on request (excludeColumns)"  # its reason in droppedColumns


@dataclass
class Prepared:
    task: Task
    target: str
    df: pd.DataFrame  # rows with a target
    X: pd.DataFrame  # the used columns, typed as the signature will be
    y: pd.Series
    plan: ColumnPlan
    classes: list[Any] | None  # sorted labels; targets are fitted as their positions
    metric: Metric
    positive: int | None  # the position in classes of the positive class (two classes)
    roles: RowRoles  # weights and the validation scheme, aligned with the rows

    @property
    def judge(self) -> Judge:
        positive = 1 if self.positive is None else self.positive
        return Judge(self.metric, len(self.classes or []), positive)

    def encode(self, y: pd.Series) -> np.ndarray:
        """Targets as the families fit them: class positions 0..k-1, or floats."""
        if self.classes is None:
            return y.to_numpy(dtype="float64")
        return np.searchsorted(np.asarray(self.classes), y.to_numpy()).astype("int64")

    def featurizer(self) -> Featurizer:
        """An unfitted Featurizer of the columns as typed."""
        plan = self.plan
        return Featurizer(plan.numeric, plan.categorical, plan.datetime, plan.text)


def prepare(df: pd.DataFrame, options: TrainOptions) -> Prepared:
    target = options.target or str(df.columns[-1])
    if target not in df.columns:
        raise TrainingError(f"target column {target!r} is not in the data")
    excluded = list(options.exclude_columns or ())
    try:  # the upload checked the header already; a retrain's data, say, may differ
        check_columns(options, [str(c) for c in df.columns])
    except InvalidInput as exc:
        raise TrainingError(str(exc)) from None
    task, metric = task_and_metric(df[target], options.task, options.metric)
    df = clean_target(df, target, task)
    roles = row_roles(df, options)
    X = normalise_features(df.drop(columns=[target, *excluded, *roles.not_features]))
    y = df[target]
    if task == Task.CLASSIFICATION and not pd.api.types.is_bool_dtype(y):
        y = y.astype(str) if not pd.api.types.is_numeric_dtype(y) else y
    plan = plan_columns(X)
    plan.dropped = {**dict.fromkeys(excluded, EXCLUDED), **roles.not_features, **plan.dropped}
    if not plan.used:
        raise TrainingError(
            "no usable feature columns: " + "; ".join(f"{c}: {r}" for c, r in plan.dropped.items())
        )
    classes = [_plain(c) for c in np.unique(y.to_numpy())] if task == Task.CLASSIFICATION else None
    check_metric(metric, y, classes)
    positive = positive_class(classes, y, options.positive_class, task)
    return Prepared(task, target, df, X[plan.used], y, plan, classes, metric, positive, roles)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
