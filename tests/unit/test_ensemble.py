import math

import numpy as np
import pytest
import skops.io

from modeltrain.constants import Task
from modeltrain.pipeline import families
from modeltrain_model.ensemble import Ensemble, member_output
from modeltrain_model.families import trusted_types


def _data(task: Task, rows: int = 300):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 4))
    X[rng.random(size=X.shape) < 0.1] = np.nan  # gaps, as real data has
    X[:, 3] = rng.integers(0, 4, size=rows)  # a category code
    signal = np.nan_to_num(X[:, 0]) + X[:, 3]
    if task == Task.CLASSIFICATION:
        return X, np.digitize(signal, [0.5, 2.5])  # three classes 0..2
    return X, signal


def _fit_all(task: Task, X, y):
    ctx = families.FitContext(task, [3], threads=1, deadline=math.inf)
    out = {}
    for family in families.names():
        params = families.default_params(family, task, len(y))
        if family == "lightgbm":
            params["n_estimators"] = 50
        out[family], _ = families.fit(family, params, ctx, X, y)
    return out


@pytest.mark.parametrize("task", [Task.CLASSIFICATION, Task.REGRESSION])
def test_each_members_fast_output_equals_its_estimators_own_prediction(task):
    X, y = _data(task)
    for family, model in _fit_all(task, X, y).items():
        fast = member_output(model, X, task, n_classes=3)
        own = model.predict_proba(X) if task == Task.CLASSIFICATION else model.predict(X)
        np.testing.assert_allclose(fast, own, rtol=1e-6, atol=1e-9, err_msg=family)


def test_an_ensemble_averages_its_members_and_names_the_original_classes():
    X, y = _data(Task.CLASSIFICATION)
    models = _fit_all(Task.CLASSIFICATION, X, y)
    ensemble = Ensemble(
        members=[models["lightgbm"], models["linear"]],
        weights=[2.0, 1.0],
        names=["lightgbm", "logistic_regression"],
        task="classification",
        classes=["low", "mid", "high"],
        log_target=[False, False],
    )
    expected = (2 * models["lightgbm"].predict_proba(X) + models["linear"].predict_proba(X)) / 3
    np.testing.assert_allclose(ensemble.predict_proba(X), expected, rtol=1e-6)
    assert set(ensemble.predict(X)) <= {"low", "mid", "high"}
    regressor = Ensemble(members=[models["linear"]], weights=[1.0], task="regression",
                         classes=None, log_target=[False])  # fmt: skip
    assert not hasattr(regressor, "predict_proba")


def test_every_type_in_a_trained_ensemble_is_one_skops_is_told_to_trust():
    for task in (Task.CLASSIFICATION, Task.REGRESSION):
        X, y = _data(task)
        models = list(_fit_all(task, X, y).values())
        ensemble = Ensemble(members=models, weights=[1.0] * len(models), task=task.value,
                            classes=[0, 1, 2] if task == Task.CLASSIFICATION else None,
                            log_target=[False] * len(models))  # fmt: skip
        untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(ensemble))
        assert set(untrusted) <= set(trusted_types())
        loaded = skops.io.loads(skops.io.dumps(ensemble), trusted=trusted_types())
        np.testing.assert_allclose(loaded.predict(X[:5]) if task == Task.REGRESSION else
                                   loaded.predict_proba(X[:5]),
                                   ensemble.predict(X[:5]) if task == Task.REGRESSION else
                                   ensemble.predict_proba(X[:5]))  # fmt: skip


def test_the_linear_encoder_imputes_scales_and_one_hot_encodes():
    from modeltrain_model.linear_encoder import LinearEncoder

    X = np.array([[1.0, 0.0], [np.nan, 1.0], [3.0, 1.0], [5.0, np.nan], [7.0, 0.0]])
    enc = LinearEncoder(categorical=[1]).fit(X)
    T = enc.transform(X)
    # number (median-filled, standardised), its was-missing flag, codes 0 and 1, other, missing
    assert T.shape == (5, 1 + 1 + 2 + 2)
    filled = np.array([1.0, 4.0, 3.0, 5.0, 7.0])
    np.testing.assert_allclose(T[:, 0], (filled - filled.mean()) / filled.std())
    assert T[:, 1].tolist() == [0, 1, 0, 0, 0]
    np.testing.assert_array_equal(T[:, 2:], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0],
                                             [0, 0, 0, 1], [1, 0, 0, 0]])  # fmt: skip
    unseen = enc.transform(np.array([[np.nan, 9.0]]))
    np.testing.assert_array_equal(unseen[0, 1:], [1, 0, 0, 1, 0])  # gap flagged, code is "other"
    np.testing.assert_allclose(enc.transform(X[[3]]), T[[3]])
