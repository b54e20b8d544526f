"""Model search within the time budget: Optuna's TPE sampler over the families and their
hyperparameters, each configuration scored by cross-validation on small data or on one
validation split on large data.

The first trials are each family's default configuration (cheap ones first), so that even a
budget of a few seconds compares the families; the sampler explores from there. The search
stops when the budget, less the time the final refit will need, is spent, or when the job is
asked to finish; LightGBM trials stop boosting at the deadline too. What it returns besides
every trial is the incumbents: the trial chosen so far and each family's, which a later trial
replaces only when clearly better (pipeline/selection.py says why)."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna

from modeltrain.constants import Task
from modeltrain.metrics import Judge, default_for
from modeltrain.pipeline import families
from modeltrain.pipeline.selection import choose, clearly_better
from modeltrain.pipeline.trials import Problem, SearchResult, Trial, evaluate, make_folds

# Time kept for the final fits, in fold fits of the incumbents: the chosen models are fitted on
# the training rows, and again on all rows (a fit on more rows costs more).
REFIT_FACTOR = 2.5
BAG_REFIT_FACTOR = 1.3  # a Bag is kept as it is, then fitted once more on all rows (more rows)
# And seconds more for a Bag, whose refit on all rows must fit in the budget (train.py): the last
# trial may end a little past where the search meant to stop, and without a margin the same Bag
# was refitted in one run and not in the next.
BAG_REFIT_MARGIN = 0.25
# A trial may use this share of the time left (less the reserve), so that the refit of what it
# finds fits in the budget too.
TRIAL_SHARE = 0.45
SKEWED = 1.0  # |skew| of a non-negative regression target from which log1p is tried
IMBALANCED = 0.2  # share of the rarest class below which balanced class weights are tried
# Trials without a clearly better one (selection.clearly_better) after which the search has
# converged: a small CSV's job then ends before its budget, with the model it would have had.
PATIENCE = 60


def search(
    X: np.ndarray,
    y: np.ndarray,
    task: Task,
    categorical: list[int],
    deadline: float,
    threads: int = 0,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[Trial | None], None] | None = None,
    only: tuple[str, ...] | None = None,
    problem: Problem | None = None,
) -> SearchResult:
    """Search until `deadline` (time.monotonic()), keeping room for the final refit.
    `on_progress(best)` is called after each trial and about every second during long fits,
    with the best trial so far; `only` names the families to search (None: the usual ones for
    the data); `problem` is the metric, row weights and validation scheme (default: the task's
    default metric on unweighted rows, random folds). y is 0..k-1 for classes."""
    return _Search(X, y, task, categorical, deadline, threads, should_stop, on_progress, only,
                   problem).run()  # fmt: skip


class _Search:
    """One search: the Optuna study, its objective and when to stop it."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        task: Task,
        categorical: list[int],
        deadline: float,
        threads: int,
        should_stop: Callable[[], bool] | None,
        on_progress: Callable[[Trial | None], None] | None,
        only: tuple[str, ...] | None = None,
        problem: Problem | None = None,
    ) -> None:
        self.X, self.y, self.task, self.categorical = X, y, task, categorical
        self.deadline, self.threads = deadline, threads
        self.should_stop, self.on_progress = should_stop, on_progress
        self.rows = len(y)
        self.n_classes = int(y.max()) + 1 if task == Task.CLASSIFICATION else 0
        self.problem = problem or Problem(Judge(default_for(task), self.n_classes))
        self.judge, self.weight = self.problem.judge, self.problem.weight
        self.folds, validation = make_folds(y, task, split=self.problem.split)
        self.families = families.families_for(self.rows, only)
        metric = self.judge.metric
        count_like = task == Task.REGRESSION and y.min() >= 0 and abs(_skew(y)) >= SKEWED
        # a log scale is tried for a skewed target, and for a metric on the log scale (RMSLE)
        self.log_scale = task == Task.REGRESSION and metric.log_scale and not count_like
        self.skewed = count_like or self.log_scale
        self.imbalanced = self.n_classes > 0 and np.bincount(y).min() / self.rows < IMBALANCED
        self.space = families.Space(
            self.rows, bool(categorical), count_like,
            metric.objectives if task == Task.REGRESSION else (),
        )  # fmt: skip
        self.stopping_metric = metric.stopping_metric(self.n_classes)
        covered = np.sort(np.concatenate([v for _, v in self.folds]))
        self.result = SearchResult([], covered, validation, families=self.families)
        self.improved_at = 0  # the trial count when the incumbent last changed
        self.last_seconds: dict[str, float] = {}  # family -> its latest trial's duration
        self.work_seconds: dict[str, float] = {}  # family -> that per unit of Family.work
        self.interrupted: Exception | None = None  # raised by a caller's callback mid-trial
        self._final: tuple[tuple[int, ...], list[Trial]] = ((), [])  # incumbents' ids, choice

    def run(self) -> SearchResult:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                seed=0, multivariate=True, group=True, n_startup_trials=len(self.families) + 6
            )
            study = optuna.create_study(direction="maximize", sampler=sampler)
        for first in self._first_trials():
            study.enqueue_trial(first)
        timeout = self.deadline - time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if timeout <= 0:  # the budget went on reading the data: one default model still
                study.optimize(self._objective, n_trials=1, catch=())
            else:
                study.optimize(self._objective, timeout=timeout, callbacks=[self._stop], catch=())
        if self.interrupted is not None:
            raise self.interrupted
        return self.result

    def _first_trials(self) -> list[dict[str, Any]]:
        """Each family's default configuration, then each family's variations of it (what the
        data opens up: random split thresholds on small data, category codes as ordered
        numbers, a Poisson objective and a log scale for a skewed target, an objective or a log
        scale that fits the job's metric)."""
        columns = self.X.shape[1]
        defaults = {f: families.get(f).defaults(self.task, self.space, columns)
                    for f in self.families}  # fmt: skip
        firsts = [(family, False, defaults[family]) for family in self.families]
        firsts += [(family, True, defaults[family]) for family in self.families if self.log_scale]
        for family in self.families:
            for log_target, change in families.get(family).variations(self.task, self.space):
                params = {k: v for k, v in {**defaults[family], **change}.items() if v is not None}
                firsts.append((family, log_target, params))
        out = []
        for family, log_target, params in firsts:
            first: dict[str, Any] = {
                "family": family,
                **{f"{family}.{k}": v for k, v in params.items()},
            }
            if self.skewed:
                first["log_target"] = log_target
            if self.imbalanced:
                first["class_weight"] = "none"
            out.append(first)
        return out

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.result.ranked[0] if self.result.ranked else None)

    def _reserve(self) -> float:
        """Seconds to keep for the final fits of what the final model would be made of now: a
        Bag's refit on all rows is one fit per fold. Only those: counting every family's
        incumbent, when the final model was one of them, stopped the search up to a second
        early, and by how much varied from job to job with what the families took."""
        members = self._final_members()
        margin = BAG_REFIT_MARGIN if any(t.models for t in members) else 0.0
        return margin + sum(
            BAG_REFIT_FACTOR * t.bag_seconds if t.models else REFIT_FACTOR * t.fit_seconds
            for t in members
        )

    def _final_members(self) -> list[Trial]:
        """The trials selection.choose makes the final model of, chosen again only when the
        incumbents changed (a clearly better trial: rarely)."""
        incumbents = self.result.incumbents()
        key = tuple(id(t) for t in incumbents)
        if key != self._final[0]:
            picked = choose(self.result, self.y, self.judge, self.weight)[0] if incumbents else []
            self._final = (key, [t for t, _ in picked])
        return self._final[1]

    def _time_left(self) -> float:
        return self.deadline - self._reserve() - time.monotonic()

    def _objective(self, ot: optuna.Trial) -> float:
        """One trial. An exception from the caller's callbacks (the job was cancelled, say) ends
        the study as a pruned trial and is raised again after it: left to Optuna it would be
        logged as a failed trial with its traceback, for what is an event, not an error."""
        try:
            return self._trial(ot)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            self.interrupted = exc
            ot.study.stop()
            raise optuna.TrialPruned() from exc

    def _trial(self, ot: optuna.Trial) -> float:
        family = ot.suggest_categorical("family", self.families)
        log_target = (
            bool(ot.suggest_categorical("log_target", [False, True])) if self.skewed else False
        )
        space = dataclasses.replace(self.space, log_target=True) if log_target else self.space
        params = families.get(family).suggest(ot, self.task, space)
        weights = ot.suggest_categorical("class_weight", ["none", "balanced"]) if (
            self.imbalanced
        ) else "none"  # fmt: skip
        if weights != "none":
            params["class_weight"] = weights
        remaining = self._time_left()
        expected = self.work_seconds.get(family, 0.0) * families.get(family).work(params)
        if self.result.trials and expected > remaining:
            raise optuna.TrialPruned()  # this configuration would not finish in time
        trial = Trial(ot.number, family, params, log_target)
        ctx = families.FitContext(
            self.task, self.categorical, self.threads,
            time.monotonic() + TRIAL_SHARE * max(0.0, remaining), self.should_stop, self._report,
            self.stopping_metric,
        )  # fmt: skip
        try:
            evaluate(trial, self.X, self.y, self.folds, ctx, self.n_classes, self.judge,
                     self.weight)  # fmt: skip
        except families.fit_errors() as exc:  # one configuration failing is a finding
            trial.error = f"{type(exc).__name__}: {exc}"[:300]
        self._record(trial)
        self._report()
        return trial.score

    def _record(self, trial: Trial) -> None:
        result = self.result
        result.trials.append(trial)
        self.last_seconds[trial.family] = trial.seconds
        self.work_seconds[trial.family] = trial.seconds / families.get(trial.family).work(
            trial.params
        )
        if math.isnan(trial.score):
            return
        if self._replaces(trial, result.family_incumbents.get(trial.family)):
            result.family_incumbents[trial.family] = trial
        if self._replaces(trial, result.incumbent):
            result.incumbent = trial
            self.improved_at = len(result.trials)
        _rank(result, trial)

    def _replaces(self, trial: Trial, incumbent: Trial | None) -> bool:
        if incumbent is None:
            return True
        if trial.score <= incumbent.score:
            return False
        assert incumbent.output is not None and trial.output is not None
        covered = self.result.covered
        weight = None if self.weight is None else self.weight[covered]
        return clearly_better(self.y[covered], trial.output, incumbent.output, self.judge,
                              weight=weight)  # fmt: skip

    def _stop(self, study: optuna.Study, _: Any) -> None:
        """After each trial: stop when asked to, when the budget is spent, when more trials
        stopped helping, or when no family fits in the time left."""
        trials = self.result.trials
        if self.should_stop is not None and self.should_stop():
            self.result.stopped_early = True
            study.stop()
            return
        spent = self.deadline - time.monotonic() <= self._reserve()
        converged = len(trials) - self.improved_at >= PATIENCE
        nothing_fits = min(self.last_seconds.get(f, 0.0) for f in self.families) > self._time_left()
        if trials and (spent or converged or nothing_fits):
            study.stop()


def _rank(result: SearchResult, trial: Trial) -> None:
    """Keep the finished trials ranked best first; only the incumbents keep their outputs and
    fold models (the rest are never chosen)."""
    result.ranked.append(trial)
    result.ranked.sort(key=lambda t: t.score, reverse=True)
    for each in result.ranked:
        if not result.kept(each):
            each.output = None
            each.models = None


def _skew(y: np.ndarray) -> float:
    centred = y - y.mean()
    std = centred.std()
    return float((centred**3).mean() / std**3) if std > 0 else 0.0
