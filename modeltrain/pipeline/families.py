"""The training side of the family registry (modeltrain_model.families): which families a search
tries on data of a given size, and fitting one configuration of any of them.

Every family fits on the featurizer's float matrix (NaN for missing values, categories as
integer codes whose positions are `categorical`). Classification targets arrive encoded as
0..k-1, so every family's probabilities line up with the same classes."""

from __future__ import annotations

from typing import Any

import numpy as np

from modeltrain_model import families as registry
from modeltrain_model.families import Family, FitContext, Space, UnknownFamily

__all__ = ["Family", "FitContext", "Space", "UnknownFamily", "families_for", "fit", "fit_errors",
           "get", "label", "names", "default_params", "work"]  # fmt: skip

get = registry.get
names = registry.names


def families_for(rows: int, only: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The families searched on data of this many training rows, in the registry's order;
    `only` (a job's `families` option) narrows them, and a family asked for by name is searched
    whatever its `max_rows`."""
    if only is not None:
        wanted = {registry.resolve(name) for name in only}
        return tuple(name for name in registry.names() if name in wanted)
    return tuple(
        f.name for f in registry.all_families() if f.max_rows is None or rows <= f.max_rows
    )


def label(family: str, task: str) -> str:
    """The estimator's name shown in leaderboards."""
    return registry.get(family).label(task)


def default_params(family: str, task: str, rows: int, columns: int = 1) -> dict[str, Any]:
    """The family's first configuration on plain data of this many rows and columns."""
    return registry.get(family).defaults(task, Space(rows), columns)


def work(family: str, params: dict[str, Any]) -> float:
    return registry.get(family).work(params)


def fit_errors() -> tuple[type[BaseException], ...]:
    """Errors a configuration may raise while fitting: that trial fails, the search goes on."""
    own = (e for f in registry.all_families() for e in f.fit_errors())
    return (ValueError, ArithmeticError, np.linalg.LinAlgError, *own)


def fit(
    family: str,
    params: dict[str, Any],
    ctx: FitContext,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    weight_val: np.ndarray | None = None,
) -> tuple[Any, int | None]:
    """Fit one configuration, its rows weighted by ``weight`` when given; with a validation set,
    a family that stops early stops on it. Returns the estimator and the rounds it kept (None
    for families without rounds)."""
    return registry.get(family).fit(params, ctx, X, y, X_val, y_val, weight, weight_val)
