"""Bags (modeltrain_model.ensemble.Bag): a boosted configuration's cross-validation models kept
by the search and averaged as the final model; refitted fold by fold on other rows; explained,
saved and loaded like any member."""

import math

import numpy as np
import pytest
import skops.io

from modeltrain.constants import Task
from modeltrain.metrics import Judge, default_for
from modeltrain.pipeline import families
from modeltrain.pipeline.final import fit_members
from modeltrain.pipeline.trials import Trial, evaluate, make_folds
from modeltrain_model.ensemble import Bag, Ensemble, member_output
from modeltrain_model.families import trusted_types
from tests.unit.test_explain import _check_additive, _pipeline


def _data(rows: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 4))
    X[:, 3] = rng.integers(0, 4, size=rows)
    y = np.digitize(X[:, 0] + 0.5 * X[:, 3] + rng.normal(0, 0.5, rows), [0.5, 1.5])
    return X, y


def _trial(family: str, X, y, folds) -> Trial:
    params = families.default_params(family, Task.CLASSIFICATION, len(y))
    if family == "lightgbm":
        params["n_estimators"] = 60
    trial = Trial(0, family, params, log_target=False)
    ctx = families.FitContext(Task.CLASSIFICATION, [3], threads=1, deadline=math.inf)
    evaluate(trial, X, y, folds, ctx, 3, Judge(default_for(Task.CLASSIFICATION), 3))
    return trial


def test_cross_validated_boosting_keeps_its_fold_models_and_a_bag_averages_them():
    X, y = _data()
    folds, _ = make_folds(y, Task.CLASSIFICATION)
    boosted = _trial("lightgbm", X, y, folds)
    assert boosted.models is not None and len(boosted.models) == len(folds) == 5
    # The search's validation outputs are those fold models' own outputs on their folds.
    for model, (_, val) in zip(boosted.models, folds, strict=True):  # every row covered once
        np.testing.assert_allclose(member_output(model, X[val], "classification", 3),
                                   boosted.output[val])  # fmt: skip
    bag = Bag(boosted.models)
    mean = np.mean([member_output(m, X, "classification", 3) for m in boosted.models], axis=0)
    np.testing.assert_allclose(member_output(bag, X, "classification", 3), mean)
    forest = _trial("random_forest", X, y, folds)
    holdout, _ = make_folds(np.zeros(30_000, dtype=int), Task.CLASSIFICATION)
    assert forest.models is None and len(holdout) == 1


def test_a_bag_is_kept_on_its_own_rows_and_refitted_fold_by_fold_on_others():
    X, y = _data()
    folds, _ = make_folds(y, Task.CLASSIFICATION)
    trial = _trial("lightgbm", X, y, folds)
    kept = fit_members([(trial, 2)], X, y, Task.CLASSIFICATION, [3], threads=1)
    assert isinstance(kept[0].model, Bag) and kept[0].model.models == trial.models
    assert kept[0].weight == 2 and kept[0].fit_seconds == pytest.approx(trial.bag_seconds)
    more_X, more_y = _data(rows=500, seed=1)
    refits = [fit_members([(trial, 1)], more_X, more_y, Task.CLASSIFICATION, [3], threads=1,
                          searched=False)[0].model for _ in range(2)]  # fmt: skip
    assert all(len(r.models) == 5 for r in refits)
    assert not any(m is o for m in refits[0].models for o in trial.models)
    np.testing.assert_array_equal(  # deterministic: the same folds, the same fits
        member_output(refits[0], X, "classification", 3),
        member_output(refits[1], X, "classification", 3),
    )
    assert all(m.get_params()["n_jobs"] == 1 for m in refits[0].models)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "skewed"])
def test_an_ensemble_with_a_bag_adds_up_to_its_prediction_and_survives_skops(kind):
    pipeline, df = _pipeline(kind, ("lightgbm", "lightgbm", "lightgbm", "linear"))
    model: Ensemble = pipeline.named_steps["model"]
    model.members = [Bag(model.members[:3]), model.members[3]]  # three boosters as one Bag
    model.weights, model.names = [2.0, 1.0], ["lightgbm", "linear"]
    model.log_target = model.log_target[:2]
    _check_additive(pipeline, df)
    data = skops.io.dumps(pipeline)
    assert set(skops.io.get_untrusted_types(data=data)) <= set(trusted_types())
    loaded = skops.io.loads(data, trusted=trusted_types())
    np.testing.assert_array_equal(loaded.predict(df.head(20)), pipeline.predict(df.head(20)))
