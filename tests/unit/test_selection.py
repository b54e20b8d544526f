"""Choosing the final model against the noise of the validation rows: the rank-based ROC AUC,
the paired bootstrap test, the incumbents a search keeps, the ensemble grown from them; and the
search space the data opens up (category codes as numbers, a Poisson objective, random split
thresholds)."""

import dataclasses
import math
import time

import numpy as np
import pytest
from sklearn import metrics

from modeltrain.constants import Task
from modeltrain.metrics import BY_NAME, Judge
from modeltrain.pipeline import families
from modeltrain.pipeline.search import BAG_REFIT_FACTOR, BAG_REFIT_MARGIN, REFIT_FACTOR, _Search
from modeltrain.pipeline.selection import (
    MIN_ENSEMBLE_GAIN,
    choose,
    clearly_better,
    select_weights,
)
from modeltrain.pipeline.trials import Problem, SearchResult, Trial
from modeltrain_model.featurizer import Featurizer


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_the_rank_based_roc_auc_is_scikit_learns(n_classes):
    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, 700)
    proba = np.round(rng.dirichlet(np.ones(n_classes), 700), 2)  # many ties
    proba[y == 1, 1] += 0.1  # some signal
    ours = Judge(BY_NAME["roc_auc"], n_classes)(y, proba)
    if n_classes == 2:
        theirs = metrics.roc_auc_score(y, proba[:, 1])
    else:
        normalised = proba / proba.sum(axis=1, keepdims=True)
        theirs = metrics.roc_auc_score(y, normalised, multi_class="ovr", average="weighted")
    assert ours == pytest.approx(theirs, abs=1e-12)
    missing = np.where(y == 0, 1, y)  # a class absent from the rows: balanced accuracy
    expected = metrics.balanced_accuracy_score(missing, proba.argmax(axis=1))
    assert Judge(BY_NAME["roc_auc"], n_classes)(missing, proba) == expected


def _r2(truth, out, weight=None):
    return float(metrics.r2_score(truth, out))


def test_a_gain_on_most_rows_is_clear_and_a_gain_on_a_few_lucky_rows_is_not():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    incumbent = y + rng.normal(0, 1.0, 400)
    better = y + rng.normal(0, 0.7, 400)  # closer on most rows
    assert clearly_better(y, better, incumbent, _r2)
    # as good a model, its errors drawn anew on 40 rows until it scores a little higher
    for seed in range(1, 100):
        lucky = incumbent.copy()
        lucky[:40] = y[:40] + np.random.default_rng(seed).normal(0, 1.0, 40)
        if 0 < _r2(y, lucky) - _r2(y, incumbent) < 0.01:
            break
    assert 0 < _r2(y, lucky) - _r2(y, incumbent) < 0.01
    assert not clearly_better(y, lucky, incumbent, _r2)
    assert not clearly_better(y, incumbent, better, _r2)


def _trial(number: int, family: str, y: np.ndarray, output: np.ndarray) -> Trial:
    trial = Trial(number, family, {}, log_target=False, output=output)
    trial.score = _r2(y, output)
    return trial


def _regression_search(rng: np.random.Generator) -> tuple[_Search, np.ndarray]:
    """A search on 300 noisy rows whose trials a test records by hand, and the targets of the
    rows their validation outputs are for."""
    X = rng.normal(size=(300, 2))
    y = X[:, 0] + rng.normal(0, 1, 300)
    run = _Search(X, y, Task.REGRESSION, [], time.monotonic() + 60, 1, None, None)
    return run, y[run.result.covered]


def test_the_incumbent_changes_only_for_a_clearly_better_trial_and_others_lose_outputs():
    rng = np.random.default_rng(1)
    run, truth = _regression_search(rng)
    first = _trial(0, "lightgbm", truth, truth + rng.normal(0, 1.0, 300))
    run._record(first)
    for seed in range(1, 100):  # as good, its errors drawn anew on 30 rows: better by luck
        lucky_output = first.output.copy()
        lucky_output[:30] = truth[:30] + np.random.default_rng(seed).normal(0, 1.0, 30)
        lucky = _trial(1, "lightgbm", truth, lucky_output)
        if 0 < lucky.score - first.score < 0.005:
            break
    run._record(lucky)
    assert lucky.score > first.score and run.result.incumbent is first
    assert lucky.output is None  # never chosen: its outputs are not kept
    forest = _trial(2, "extra_trees", truth, truth + rng.normal(0, 1.2, 300))
    run._record(forest)
    assert run.result.incumbent is first and run.result.family_incumbents == {
        "lightgbm": first, "extra_trees": forest
    }  # fmt: skip
    clear = _trial(3, "lightgbm", truth, truth + rng.normal(0, 0.6, 300))
    run._record(clear)
    assert run.result.incumbent is clear and run.result.family_incumbents["lightgbm"] is clear
    assert run.improved_at == 4 and first.output is None and forest.output is not None


def test_the_search_keeps_time_to_refit_what_the_final_model_is_made_of_and_nothing_more():
    rng = np.random.default_rng(4)
    run, truth = _regression_search(rng)
    best = _trial(0, "lightgbm", truth, truth + rng.normal(0, 0.5, 300))
    worse = _trial(1, "random_forest", truth, truth + 2.0 + rng.normal(0, 0.5, 300))
    best.fit_seconds, worse.fit_seconds = 0.2, 1.0
    run._record(best)
    run._record(worse)
    assert run.result.family_incumbents["random_forest"] is worse  # kept, but never chosen
    assert run._final_members() == [best]
    assert run._reserve() == pytest.approx(REFIT_FACTOR * 0.2)
    # An incumbent whose errors cancel the first one's: the final model is both, and so is
    # the reserve.
    opposite = _trial(2, "linear", truth, 2 * truth - best.output)
    opposite.fit_seconds = 0.1
    run._record(opposite)
    assert run._final_members() == [best, opposite]
    assert run._reserve() == pytest.approx(REFIT_FACTOR * 0.3)
    # A Bag among them (its fold models kept): its refit on all rows is one fit per fold, and
    # must fit in the budget, so the reserve keeps a margin for the last trial's overrun too.
    best.models = ["fold model"] * 5
    assert run._reserve() == pytest.approx(
        BAG_REFIT_MARGIN + BAG_REFIT_FACTOR * 5 * 0.2 + REFIT_FACTOR * 0.1
    )


def test_a_forest_trial_is_expected_to_cost_by_its_trees_and_the_features_they_weigh():
    small = {"n_estimators": 100, "max_features": 0.5, "min_samples_leaf": 1}
    large = {"n_estimators": 300, "max_features": 1.0, "min_samples_leaf": 1}
    assert families.work("extra_trees", large) == 6 * families.work("extra_trees", small)
    assert families.work("lightgbm", {"num_leaves": 255}) == families.work("lightgbm", {})


def test_the_ensemble_is_grown_from_the_incumbents_and_kept_when_it_adds_to_the_score():
    rng = np.random.default_rng(2)
    y = rng.normal(size=500)
    over = y + 0.8 + rng.normal(0, 0.3, 500)
    under = y - 0.8 + rng.normal(0, 0.3, 500)
    a, b = _trial(0, "lightgbm", y, over), _trial(1, "linear", y, under)
    found = SearchResult([a, b], np.arange(500), "5-fold cross-validation", ranked=[a, b])
    found.incumbent, found.family_incumbents = a, {"lightgbm": a, "linear": b}
    picked, score, _ = choose(found, y, Judge(BY_NAME["r2"]))
    assert [t for t, _ in picked] == [a, b] and score > a.score  # their errors cancel
    # A near-copy of a, a little better: selected, but adding less than MIN_ENSEMBLE_GAIN.
    near = _trial(2, "linear", y, over - 5e-5)
    found.family_incumbents["linear"] = near
    outputs = [t.output for t in found.incumbents()]
    selection = select_weights(outputs, y, Judge(BY_NAME["r2"]), first=0)
    assert min(selection.counts) > 0 and 0 < selection.score - a.score < MIN_ENSEMBLE_GAIN
    picked, score, _ = choose(found, y, Judge(BY_NAME["r2"]))
    assert picked == [(a, 1)] and score == a.score


def test_category_codes_follow_the_values_order_numbers_by_value():
    import pandas as pd

    df = pd.DataFrame({"size": ["10", "9", "b", "a", "100", "9", None]})
    codes = Featurizer([], ["size"], {}, []).fit(df).codes_["size"]
    assert list(codes) == ["9", "10", "100", "a", "b"]
    assert list(codes.values()) == [0, 1, 2, 3, 4]


def test_lightgbm_may_split_codes_as_numbers_fit_a_poisson_objective_or_split_at_random():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=300), rng.integers(0, 6, 300)]).astype(float)
    y = rng.poisson(np.exp(0.5 * X[:, 0] + 1.5 * (X[:, 1] % 2)))  # odd categories higher
    ctx = families.FitContext(Task.REGRESSION, [1], threads=1, deadline=math.inf)
    params = {**families.default_params("lightgbm", Task.REGRESSION, 300), "n_estimators": 30}
    native, _ = families.fit("lightgbm", params, ctx, X, y)
    ordinal, _ = families.fit("lightgbm", {**params, "categorical": "ordinal"}, ctx, X, y)
    poisson, _ = families.fit("lightgbm", {**params, "objective": "poisson"}, ctx, X, y)
    randomised, _ = families.fit("lightgbm", {**params, "extra_trees": True}, ctx, X, y)
    assert _split_kinds(native) >= {"=="} and _split_kinds(ordinal) == {"<="}
    assert (poisson.predict(X) > 0).all() and poisson.booster_.params["objective"] == "poisson"
    assert randomised.booster_.params["extra_trees"] is True
    assert not np.allclose(randomised.predict(X), native.predict(X))


def _split_kinds(model) -> set[str]:
    """The decision types of a LightGBM model's splits: "==" for a category split."""
    kinds: set[str] = set()

    def walk(node: dict) -> None:
        if "decision_type" in node:
            kinds.add(node["decision_type"])
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in model.booster_.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return kinds


def test_the_first_trials_try_what_the_data_opens_up():
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.normal(size=200), rng.integers(0, 5, 200)]).astype(float)
    y = np.exp(rng.normal(size=200) * 1.5)  # non-negative and skewed
    run = _Search(X, y, Task.REGRESSION, [1], time.monotonic() + 60, 1, None, None)
    lightgbm = [f for f in run._first_trials() if f["family"] == "lightgbm"]
    assert {
        (
            f["lightgbm.extra_trees"],
            f.get("lightgbm.categorical"),
            f.get("lightgbm.objective"),
            f["log_target"],
        )
        for f in lightgbm
    } == {  # fmt: skip
        (False, "native", "regression", False),
        (True, "native", "regression", False),  # random split thresholds, on small data
        (False, "ordinal", "regression", False),
        (False, "native", "poisson", False),
        (False, "native", None, True),  # a Poisson objective on log1p(y) is not searched
    }
    large = _Search(np.tile(X, (30, 1)), np.tile(y, 30), Task.REGRESSION, [1], math.inf, 1,
                    None, None)  # fmt: skip
    assert not any(f.get("lightgbm.extra_trees") for f in large._first_trials())
    plain = _Search(X[:, :1], y - y.mean(), Task.REGRESSION, [], math.inf, 1, None, None)
    families_only = plain._first_trials()[: len(families.families_for(200))]
    assert [f["family"] for f in families_only] == list(families.families_for(200))
    assert [f["family"] for f in plain._first_trials()[len(families_only) :]] == ["lightgbm"]


def test_a_metric_opens_the_losses_that_fit_it():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] + rng.normal(size=200)  # neither skewed nor non-negative
    mae = _Search(X, y, Task.REGRESSION, [], math.inf, 1, None, None,
                  problem=Problem(Judge(BY_NAME["mae"])))  # fmt: skip
    objectives = [f.get("lightgbm.objective") for f in mae._first_trials()]
    assert objectives.index("l1") < len(families.families_for(200)) + 1  # tried first
    assert mae.stopping_metric == "l1"
    positive = y - y.min()  # non-negative, not skewed
    rmsle = _Search(X, positive, Task.REGRESSION, [], math.inf, 1, None, None,
                    problem=Problem(Judge(BY_NAME["rmsle"])))  # fmt: skip
    logged = {f["family"] for f in rmsle._first_trials() if f.get("log_target")}
    assert logged == set(families.families_for(200))  # every family on the log scale too
    plain = _Search(X, y, Task.REGRESSION, [], math.inf, 1, None, None)
    assert plain.stopping_metric is None
    assert "l1" not in [f.get("lightgbm.objective") for f in plain._first_trials()]


def test_a_log_scale_trial_draws_the_objective_from_the_same_choices():
    """Optuna refuses a parameter whose choices change between trials: a trial on log1p(y)
    draws the objective from the same choices and fits Poisson's as the default one."""
    import optuna

    lightgbm = families.get("lightgbm")
    space = families.Space(500, False, count_like=True, objectives=("l1",))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    drawn = set()
    for i in range(40):
        trial = study.ask()
        logged = dataclasses.replace(space, log_target=True) if i % 2 else space
        objective = lightgbm.suggest(trial, Task.REGRESSION, logged)["objective"]
        assert not (i % 2 and objective == "poisson")
        drawn.add(objective)
        study.tell(trial, 0.0)
    assert drawn == {"regression", "poisson", "l1"}
