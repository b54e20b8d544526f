"""Column typing and the preprocessing that goes inside the model's pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

ID_LIKE_MIN_UNIQUE = 50  # distinct values before an all-unique text column counts as an ID
HIGH_CARDINALITY_SHARE = 0.5  # distinct/rows above which a text column is dropped as ID-like


@dataclass
class ColumnPlan:
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # column -> reason

    @property
    def used(self) -> list[str]:
        return self.numeric + self.categorical


def plan_columns(X: pd.DataFrame) -> ColumnPlan:
    plan = ColumnPlan()
    rows = len(X)
    for name in X.columns:
        col = X[name]
        distinct = col.nunique(dropna=True)
        if distinct == 0:
            plan.dropped[name] = "all values are missing"
        elif distinct == 1:
            plan.dropped[name] = "the column has a single value"
        elif pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            plan.numeric.append(name)
        elif distinct >= ID_LIKE_MIN_UNIQUE and distinct > HIGH_CARDINALITY_SHARE * rows:
            plan.dropped[name] = f"looks like an identifier ({distinct} distinct values)"
        else:
            plan.categorical.append(name)
    return plan


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


def tree_preprocessor(plan: ColumnPlan) -> ColumnTransformer:
    """For gradient boosting: numbers as they are (NaN kept), categories as ordinal codes."""
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=np.float64,
    )
    return ColumnTransformer(
        [("num", "passthrough", plan.numeric), ("cat", encoder, plan.categorical)],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def linear_preprocessor(plan: ColumnPlan) -> ColumnTransformer:
    """For linear models: imputed and scaled numbers, one-hot categories."""
    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="__missing__"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=30, min_frequency=2),
    )
    return ColumnTransformer(
        [("num", numeric, plan.numeric), ("cat", categorical, plan.categorical)],
        remainder="drop",
        verbose_feature_names_out=False,
    )
