"""The guardrails report: what the data looked like and what a person should check.

Rows and columns, dropped columns and why, missing share per column, class balance (or the
target's spread), duplicate rows, and columns that predict the target suspiciously well."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from modeltrain.constants import Task
from modeltrain.pipeline.features import ColumnPlan

LEAKAGE_CORRELATION = 0.98  # |Spearman| with a numeric target above which a column is suspect
LEAKAGE_PURITY = 0.995  # share of rows whose class one column's value alone decides
IMBALANCE_SHARE = 0.1  # a class below this share of rows is called rare
LEAKAGE_MAX_VALUES = 1000  # distinct values above which a column's purity is not a finding
# A column hints that the rows are ordered in time when it holds dates, or its name is a time
# word; that they are grouped when its name says identifier or a usual kind of group and its
# values repeat: at least this many groups, of at least this many rows on average.
TIME_WORDS = re.compile(r"(^|[_\s])(date|day|time|timestamp|datetime|year|month|week)s?$", re.I)
GROUP_WORDS = re.compile(
    r"(^|[_\s])(id|customer|patient|site|user|store|subject|account|household|device|"
    r"group|client|shop|school|hospital)s?(_?id)?$",
    re.I,
)
GROUP_HINT_MIN_GROUPS = 10
GROUP_HINT_MIN_ROWS = 2.0


def _purity(col: pd.Series, y: pd.Series) -> float | None:
    """The share of rows whose class is the most common one among the rows with the same value
    of `col` (missing counts as a value); None for columns with too many distinct values for
    that to mean anything. Counted with factorize + bincount: crosstab took seconds a column on
    large data (profiled)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    values = len(uniques) + 1  # the last one: missing
    if values - 1 > max(2, min(len(col) // 20, LEAKAGE_MAX_VALUES)):
        return None
    codes = np.where(codes < 0, values - 1, codes)
    labels, classes = pd.factorize(y)
    counts = np.bincount(codes * len(classes) + labels, minlength=values * len(classes))
    return float(counts.reshape(values, len(classes)).max(axis=1).sum() / len(col))


def _leaks(X: pd.DataFrame, y: pd.Series, task: Task, plan: ColumnPlan) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in plan.used:
        col = X[name]
        if task == Task.REGRESSION and name in plan.numeric:
            both = pd.concat([col, y], axis=1).dropna()
            if len(both) > 10:
                rho = both.iloc[:, 0].rank().corr(both.iloc[:, 1].rank())
                if abs(rho) >= LEAKAGE_CORRELATION:
                    found[name] = f"rank correlation with the target is {rho:.3f}"
        elif task == Task.CLASSIFICATION:
            purity = _purity(col, y)
            if purity is not None and purity >= LEAKAGE_PURITY:
                found[name] = f"its value alone decides the class for {purity:.1%} of rows"
    return found


def validation_hints(
    df: pd.DataFrame, target: str, plan: ColumnPlan, time_column: str | None,
    group_column: str | None,
) -> list[str]:  # fmt: skip
    """Warnings that the held-out score may flatter the model: the rows look ordered in time,
    or grouped, and neither timeColumn nor groupColumn was given."""
    if time_column or group_column:
        return []
    hints = []
    for name in df.columns:
        if name == target:
            continue
        if name in plan.datetime or TIME_WORDS.search(str(name)):
            hints.append(
                f"{name!r} looks like a time: if the model will predict later rows than these, "
                f"set timeColumn={name} so that it is judged on later rows, not on rows mixed in "
                "time with the ones it learned from"
            )
            break
    for name in df.columns:
        if name == target or not GROUP_WORDS.search(str(name)):
            continue
        groups = df[name].nunique()
        if groups >= GROUP_HINT_MIN_GROUPS and len(df) / max(groups, 1) >= GROUP_HINT_MIN_ROWS:
            hints.append(
                f"{name!r} looks like groups ({groups} values, several rows each): if the model "
                f"will meet groups it has not seen, set groupColumn={name} so that it is judged "
                "on unseen groups"
            )
            break
    return hints


def build_report(
    df: pd.DataFrame,
    target: str,
    task: Task,
    X: pd.DataFrame,
    y: pd.Series,
    plan: ColumnPlan,
    hints: list[str] | None = None,
) -> dict[str, Any]:
    missing = {c: round(float(v), 4) for c, v in df.isna().mean().items() if v > 0}
    duplicates = int(df.duplicated().sum())
    report: dict[str, Any] = {
        "rows": int(len(df)),
        "columns": int(df.shape[1]),
        "target": target,
        "task": task.value,
        "droppedColumns": plan.dropped,
        "missingShare": missing,
        "duplicateRows": duplicates,
        "leakage": _leaks(X, y, task, plan),
    }
    warnings: list[str] = []
    if task == Task.CLASSIFICATION:
        shares = y.value_counts(normalize=True)
        report["classBalance"] = {str(k): round(float(v), 4) for k, v in shares.head(50).items()}
        rare = [str(k) for k, v in shares.items() if v < IMBALANCE_SHARE]
        if rare:
            listed = ", ".join(rare[:10])
            warnings.append(f"rare classes (< {IMBALANCE_SHARE:.0%} of rows): {listed}")
    else:
        values = pd.to_numeric(y, errors="coerce")
        report["targetSummary"] = {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
            "skew": float(values.skew()) if len(values) > 2 else 0.0,
        }
        if abs(report["targetSummary"]["skew"]) > 2:
            warnings.append("the target is strongly skewed; look at MAE as well as RMSE")
    if duplicates:
        warnings.append(f"{duplicates} duplicate rows")
    for name, why in report["leakage"].items():
        warnings.append(f"possible leakage: {name!r} ({why})")
    for name, share in missing.items():
        if share > 0.5 and name not in plan.dropped:
            warnings.append(f"{name!r} is {share:.0%} missing")
    warnings.extend(hints or [])
    report["warnings"] = warnings
    return report


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The part of the report that goes into the job's `result`."""
    keys = ("duplicateRows", "leakage", "warnings", "classBalance", "targetSummary")
    return {k: report[k] for k in keys if k in report}
