"""What a model family is: one definition with its hooks (name and aliases, default
configuration, search space, how its estimator is built and fitted, how a fitted member is
explained, the types its saved form needs trusted, its requirements).

It lives in the model's own package because a saved model needs part of it at prediction
(explanations); the training hooks import nothing heavy at module level, and the search's
trial is duck-typed (anything with Optuna's ``suggest_*`` methods)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from modeltrain_model import CLASSIFICATION

TICK_SECONDS = 1.0  # a long fit reports progress about this often


class UnknownFamily(ValueError):
    """A family name that no registered family has."""


@dataclass
class FitContext:
    task: str  # CLASSIFICATION or REGRESSION
    categorical: list[int]  # column positions holding category codes
    threads: int  # 0 = all cores
    deadline: float  # time.monotonic() after which a fit that can stop early stops
    should_stop: Callable[[], bool] | None = None
    tick: Callable[[], None] | None = None  # called about every TICK_SECONDS during long fits
    # what a family that stops early watches on its validation rows (LightGBM's metric name,
    # from the job's metric: modeltrain.metrics); None: its objective's own
    stopping_metric: str | None = None

    @property
    def classify(self) -> bool:
        return self.task == CLASSIFICATION


@dataclass(frozen=True)
class Space:
    """What the data opens up in a search space: category columns, a non-negative skewed
    target (a family may try a count objective)."""

    rows: int
    categorical: bool = False
    count_like: bool = False
    # objectives that fit the job's metric better than the default one (LightGBM's names:
    # "l1" for mean absolute error, say); a family tries the ones it has
    objectives: tuple[str, ...] = ()
    # this trial fits log1p(y): a count objective (a log link) would take the log twice
    log_target: bool = False


@dataclass(frozen=True)
class Attribution:
    """What explaining one fitted member needs besides the member: the featurized rows, the
    task, the number of classes, the class explained per row, whether it was fitted on
    log1p(y)."""

    M: np.ndarray
    classify: bool
    n_classes: int
    k: np.ndarray
    log_target: bool


class Family:
    """One model family. Subclasses set the class attributes and implement the hooks; the
    registry (``modeltrain_model.families``) holds one instance of each."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # other names a job's `families` option takes
    # Up to this many training rows the family is searched unless named (None: any).
    max_rows: ClassVar[int | None] = None
    # Whether its cross-validation models are kept and averaged as the final model (a Bag).
    bagged: ClassVar[bool] = False
    trusted_types: ClassVar[tuple[str, ...]] = ()  # skops types its fitted members hold
    requirements: ClassVar[tuple[str, ...]] = ()  # pip packages a version holding it needs
    # the keyword its estimator's fit() takes row weights by
    weight_keyword: ClassVar[str] = "sample_weight"

    def label(self, task: str) -> str:
        """The estimator's name in leaderboards."""
        return self.name

    def defaults(self, task: str, space: Space, columns: int) -> dict[str, Any]:
        """The first configuration tried, before the search proper."""
        raise NotImplementedError

    def variations(self, task: str, space: Space) -> list[tuple[bool, dict[str, Any]]]:
        """More first configurations, tried after every family's default: (fit on log1p(y),
        parameters that replace the default's)."""
        return []

    def suggest(self, trial: Any, task: str, space: Space) -> dict[str, Any]:
        """One configuration drawn by the search's sampler; names are prefixed by the family,
        as the search space is conditional on it."""
        raise NotImplementedError

    def work(self, params: dict[str, Any]) -> float:
        """What fitting this configuration costs relative to others of the family."""
        return 1.0

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        """An unfitted estimator of this configuration."""
        raise NotImplementedError

    def fit(
        self,
        params: dict[str, Any],
        ctx: FitContext,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        weight_val: np.ndarray | None = None,
    ) -> tuple[Any, int | None]:
        """Fit one configuration (rows weighted by ``weight`` when given); returns the
        estimator and, for a family that stops early, the rounds it kept."""
        model = self.build(params, ctx)
        model.fit(X, y, **({} if weight is None else {self.weight_keyword: weight}))
        return model, None

    def fit_errors(self) -> tuple[type[BaseException], ...]:
        """Errors a configuration may raise while fitting (that trial fails, the search goes
        on), besides ValueError, ArithmeticError and numpy's LinAlgError."""
        return ()

    def owns(self, member: Any) -> bool:
        """Whether a fitted member of an Ensemble is of this family."""
        raise NotImplementedError

    def explain(self, member: Any, at: Attribution) -> tuple[np.ndarray, np.ndarray]:
        """(base, contributions per feature) of one fitted member, in the Ensemble's output
        space (modeltrain_model.explain)."""
        raise NotImplementedError


def qualified(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"
