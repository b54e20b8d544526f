"""LightGBM gradient-boosted trees: early stopping on a validation set, boosting that stops at
the trial's deadline, category codes split natively or as ordered numbers, a Poisson objective
for counts, random split thresholds on small data."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from modeltrain_model.attribution import in_probability_space, link, through
from modeltrain_model.families.base import TICK_SECONDS, Attribution, Family, FitContext, Space

MAX_BOOSTING_ROUNDS = 3000
EARLY_STOPPING_ROUNDS = 50
# Its ways with category codes: its own categorical splits, or the codes as ordered numbers
# (the featurizer's order of values), which overfit less on many rare categories.
CATEGORY_SPLITS = ("native", "ordinal")
OBJECTIVES = ("regression", "poisson")  # for a non-negative skewed target
# Up to this many training rows a split's threshold may also be drawn at random (`extra_trees`,
# as AutoGluon's LightGBMXT): on small noisy data the randomised trees overfit less.
RANDOM_SPLITS_MAX_ROWS = 5_000
SMALL_PREDICT_ROWS = 1_000  # up to this many rows the booster predicts on one thread


class LightGBM(Family):
    name = "lightgbm"
    bagged = True  # early-stopped fold models vary; their average is steadier than one refit
    trusted_types = (
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.basic.Booster",
    )
    requirements = ("lightgbm",)

    def defaults(self, task: str, space: Space, columns: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_child_samples": max(2, min(20, space.rows // 50)),
            "colsample_bytree": 0.8,
            "subsample": 0.8,
            "reg_lambda": 1e-3,
        }
        if space.rows <= RANDOM_SPLITS_MAX_ROWS:
            params["extra_trees"] = False
        if space.categorical:
            params["categorical"] = CATEGORY_SPLITS[0]
        if len(_objectives(space)) > 1:
            params["objective"] = OBJECTIVES[0]
        return params

    def variations(self, task: str, space: Space) -> list[tuple[bool, dict[str, Any]]]:
        """Category codes as ordered numbers, random thresholds on small data, and for a
        skewed target a Poisson objective or a log scale (not both: that takes the log twice)."""
        # the objectives that fit the job's metric first: the metric is what the job is for
        out: list[tuple[bool, dict[str, Any]]] = [
            (False, {"objective": objective}) for objective in space.objectives
        ]
        if space.categorical:
            out.append((False, {"categorical": "ordinal"}))
        if space.rows <= RANDOM_SPLITS_MAX_ROWS:
            out.append((False, {"extra_trees": True}))
        if space.count_like:
            out.append((False, {"objective": "poisson"}))
            out.append((True, {"objective": None}))
        return out

    def suggest(self, trial: Any, task: str, space: Space) -> dict[str, Any]:
        p, rows = "lightgbm.", space.rows
        params: dict[str, Any] = {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int(p + "num_leaves", 4, 256, log=True),
            "min_child_samples": trial.suggest_int(
                p + "min_child_samples", 2, max(3, min(100, rows // 10)), log=True
            ),
            "colsample_bytree": trial.suggest_float(p + "colsample_bytree", 0.3, 1.0),
            "subsample": trial.suggest_float(p + "subsample", 0.5, 1.0),
            "reg_lambda": trial.suggest_float(p + "reg_lambda", 1e-3, 10.0, log=True),
        }
        if rows <= RANDOM_SPLITS_MAX_ROWS:
            params["extra_trees"] = trial.suggest_categorical(p + "extra_trees", [False, True])
        if space.categorical:
            params["categorical"] = trial.suggest_categorical(p + "categorical", CATEGORY_SPLITS)
        objectives = _objectives(space)
        if len(objectives) > 1:  # the same choices in every trial (Optuna requires it)
            params["objective"] = trial.suggest_categorical(p + "objective", objectives)
            if space.log_target and params["objective"] == "poisson":  # the log twice
                params["objective"] = OBJECTIVES[0]
        return params

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        import lightgbm as lgb

        cls = lgb.LGBMClassifier if ctx.classify else lgb.LGBMRegressor
        return cls(
            n_estimators=params.get("n_estimators", MAX_BOOSTING_ROUNDS),
            subsample_freq=1,
            random_state=0,
            n_jobs=ctx.threads or -1,
            verbose=-1,
            **{k: v for k, v in params.items() if k not in ("n_estimators", "categorical")},
        )

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
        """With a validation set, stops early on it (on the job's metric where LightGBM has
        it: ``ctx.stopping_metric``); the rounds kept are returned."""
        import lightgbm as lgb

        model = self.build(params, ctx)
        callbacks = [_deadline_callback(ctx)]
        extra: dict[str, Any] = {} if weight is None else {"sample_weight": weight}
        if X_val is not None:
            first_only = ctx.stopping_metric is not None
            callbacks.append(
                lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=first_only,
                                   verbose=False)
            )  # fmt: skip
            extra["eval_set"] = [(X_val, y_val)]
            if weight_val is not None:
                extra["eval_sample_weight"] = [weight_val]
            if first_only:
                extra["eval_metric"] = ctx.stopping_metric
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*eval_set.*deprecated", category=Warning)
            native = params.get("categorical", "native") == "native"
            model.fit(X, y, categorical_feature=(ctx.categorical if native else []) or "auto",
                      callbacks=callbacks, **extra)  # fmt: skip
        rounds = int(model.best_iteration_ or model.n_estimators_) if X_val is not None else None
        return model, rounds or int(model.n_estimators_)

    def fit_errors(self) -> tuple[type[BaseException], ...]:
        import lightgbm as lgb

        return (lgb.basic.LightGBMError,)

    def owns(self, member: Any) -> bool:
        return getattr(member, "booster_", None) is not None

    def explain(self, member: Any, at: Attribution) -> tuple[np.ndarray, np.ndarray]:
        """Its native tree SHAP (``pred_contrib``), in margin space."""
        M = at.M
        threads = 1 if len(M) <= SMALL_PREDICT_ROWS else 0
        raw = member.booster_.predict(M, pred_contrib=True, num_threads=threads)
        F = M.shape[1]
        if not at.classify:
            base, phi = raw[:, F], raw[:, :F]
            if member.get_params().get("objective") == "poisson":  # predicts exp(margin)
                base, phi = through(np.exp, base, phi)
            return link(base, phi, at.log_target)
        if raw.shape[1] == F + 1:  # binary: the margin of class 1
            Phi = np.stack([np.zeros((len(M), F)), raw[:, :F]], axis=2)
            B = np.column_stack([np.zeros(len(M)), raw[:, F]])
        else:
            blocks = raw.reshape(len(M), -1, F + 1)  # rows × classes × (features + bias)
            Phi, B = blocks[:, :, :F].transpose(0, 2, 1), blocks[:, :, F]
        return in_probability_space(B, Phi, member, at.n_classes, at.k)


def _objectives(space: Space) -> tuple[str, ...]:
    """The regression objectives searched: the default, Poisson for a skewed non-negative
    target, and those that fit the job's metric (``Space.objectives``: L1 for mean absolute
    error)."""
    return (*OBJECTIVES[: 2 if space.count_like else 1], *space.objectives)


def _deadline_callback(ctx: FitContext) -> Any:
    """Stop boosting when the time budget is spent (or the job must stop); the best iteration
    so far is kept. Reports progress on the way (a fit may last most of the budget)."""
    import lightgbm as lgb

    last_tick = [time.monotonic()]

    def _callback(env: Any) -> None:
        now = time.monotonic()
        if now > ctx.deadline or (ctx.should_stop is not None and ctx.should_stop()):
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])
        if ctx.tick is not None and now - last_tick[0] >= TICK_SECONDS:
            last_tick[0] = now
            ctx.tick()

    _callback.order = 40  # type: ignore[attr-defined]
    return _callback
