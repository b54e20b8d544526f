"""Batch jobs' compiled LightGBM members (modeltrain/batch/compiled.py): the same values as the
booster, bit for bit, on numbers, missing values and unseen categories; compiled once and then
loaded from disk; off when told, and for models without LightGBM members."""

import math

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from modeltrain.batch.compiled import CompiledMembers, find_toolchain
from modeltrain.constants import Task
from modeltrain.pipeline import families
from modeltrain.serving.cache import LoadedModel
from modeltrain_model.ensemble import Ensemble

pytestmark = pytest.mark.skipif(find_toolchain() is None, reason="no C compiler here")


def _data(rows: int, classes: int | None, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 4))
    X[rng.random(size=X.shape) < 0.1] = np.nan
    X[:, 3] = rng.integers(0, 5, size=rows)  # a category code
    signal = np.nan_to_num(X[:, 0]) + X[:, 3] + np.sin(np.nan_to_num(X[:, 1]))
    if classes is None:
        return X, signal
    return X, np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1]))


def _model(
    classes: int | None,
    families_: tuple[str, ...] = ("lightgbm", "linear"),
    lightgbm: dict | None = None,
):
    task = Task.REGRESSION if classes is None else Task.CLASSIFICATION
    X, y = _data(400, classes, seed=1)
    if lightgbm and lightgbm.get("objective") == "poisson":
        y = np.exp(y / 2)  # a non-negative target
    ctx = families.FitContext(task, [3], threads=1, deadline=math.inf)
    members = []
    for family in families_:
        params = families.default_params(family, task, len(y))
        if family == "lightgbm":
            params.update(n_estimators=60, **(lightgbm or {}))
        members.append(families.fit(family, params, ctx, X, y)[0])
    ensemble = Ensemble(
        members=members,
        weights=[2.0, 1.0][: len(members)],
        names=list(families_),
        task=task.value,
        classes=None if classes is None else list(range(classes)),
        log_target=[False] * len(members),
    )
    raw = Pipeline([("features", FunctionTransformer()), ("model", ensemble)])
    return LoadedModel("m", "1", pyfunc=None, raw=raw, columns=[], load_seconds=0.0)


def _rows():
    X, _ = _data(3_000, None, seed=2)
    X[:5, 3] = [7, 9, -1, 40, np.nan]  # categories never seen in training
    return X


@pytest.mark.parametrize(
    ("classes", "lightgbm"),
    [(None, None), (2, None), (4, None),
     (None, {"objective": "poisson"}), (2, {"categorical": "ordinal"})],
)  # fmt: skip
def test_compiled_members_predict_what_the_boosters_predict_bit_for_bit(
    tmp_path, classes, lightgbm
):
    model, X = _model(classes, lightgbm=lightgbm), _rows()
    compiled = CompiledMembers(tmp_path, enabled=True)
    assert compiled.view(model) is None  # compiling has started; LightGBM meanwhile
    compiled.wait(180)
    faster = compiled.view(model)
    assert faster is not None and faster.raw is not model.raw
    booster = model.raw.steps[-1][1].members[0].booster_
    library = faster.raw.steps[-1][1].members[0].booster_
    assert np.array_equal(library.predict(X), booster.predict(X))
    assert np.array_equal(faster.raw.predict(X), model.raw.predict(X))
    if classes is not None:
        assert np.array_equal(faster.raw.predict_proba(X), model.raw.predict_proba(X))
    assert model.raw.steps[-1][1].members[0].booster_ is booster  # the loaded model untouched
    compiled.close()


def test_a_library_is_compiled_once_and_loaded_by_the_next_worker(tmp_path):
    model = _model(None)
    first = CompiledMembers(tmp_path, enabled=True)
    first.view(model)
    first.wait(180)
    (library,) = tmp_path.glob("*.so")
    built = library.stat().st_mtime_ns
    second = CompiledMembers(tmp_path, enabled=True)
    second.view(model)
    second.wait(180)
    assert second.view(model) is not None
    assert [p.stat().st_mtime_ns for p in tmp_path.glob("*.so")] == [built]


def test_nothing_is_compiled_when_told_not_to_or_without_lightgbm_members(tmp_path):
    off = CompiledMembers(tmp_path / "off", enabled=False)
    assert off.view(_model(2)) is None and not off.enabled
    linear_only = CompiledMembers(tmp_path / "linear", enabled=True)
    assert linear_only.view(_model(2, families_=("linear",))) is None
    linear_only.wait(60)
    assert not (tmp_path / "off").exists() and not (tmp_path / "linear").exists()


def test_the_boosters_inside_a_bag_are_compiled_too(tmp_path):
    from modeltrain_model.ensemble import Bag

    model, X = _model(2, families_=("lightgbm", "lightgbm")), _rows()
    ensemble = model.raw.steps[-1][1]
    ensemble.members = [Bag(ensemble.members)]
    ensemble.weights, ensemble.names, ensemble.log_target = [1.0], ["lightgbm"], [False]
    compiled = CompiledMembers(tmp_path, enabled=True)
    compiled.view(model)
    compiled.wait(180)
    faster = compiled.view(model)
    assert faster is not None
    inner = faster.raw.steps[-1][1].members[0].models
    assert all(hasattr(m, "booster_") and not hasattr(m, "n_estimators") for m in inner)
    assert np.array_equal(faster.raw.predict_proba(X), model.raw.predict_proba(X))
    compiled.close()
