"""Per-row explanations: exact additivity for every family we train and for ensembles."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from modeltrain.constants import Task
from modeltrain.pipeline import families
from modeltrain_model.ensemble import Ensemble
from modeltrain_model.explain import explain
from modeltrain_model.families import trusted_types
from modeltrain_model.featurizer import Featurizer

COLUMNS = ["x", "noise", "colour", "when", "note"]


def _frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    x[rng.random(rows) < 0.1] = np.nan  # gaps, as real data has
    return pd.DataFrame(
        {
            "x": x,
            "noise": rng.normal(size=rows),
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "when": pd.date_range("2024-01-01", periods=rows, freq="37h").strftime("%Y-%m-%d"),
            "note": rng.choice(["ok", "Late AGAIN", "n/a 42"], size=rows),
        }
    )


def _target(df: pd.DataFrame, kind: str) -> np.ndarray:
    signal = np.nan_to_num(df["x"].to_numpy()) + (df["colour"] == "red") * 1.5
    if kind == "binary":
        return (signal > 0.5).astype(int)
    if kind == "multiclass":
        return np.digitize(signal, [0.0, 1.0])
    if kind in ("skewed", "count"):
        return np.exp(signal)  # skewed: fitted on log1p(y) below; count: a Poisson objective
    return signal


def _pipeline(kind: str, family_names: tuple[str, ...]) -> tuple[Pipeline, pd.DataFrame]:
    df = _frame()
    y = _target(df, kind)
    task = Task.REGRESSION if kind in ("regression", "skewed", "count") else Task.CLASSIFICATION
    featurizer = Featurizer(["x", "noise"], ["colour"], {"when": "%Y-%m-%d"}, ["note"]).fit(df)
    M = featurizer.transform(df)
    ctx = families.FitContext(task, featurizer.categorical_indices_, 1, math.inf)
    log_target = kind == "skewed"
    members = []
    for family in family_names:
        params = families.default_params(family, task, len(y), M.shape[1])
        if family == "lightgbm":
            params["n_estimators"] = 40
            if kind == "count":
                params["objective"] = "poisson"
        if family in ("random_forest", "extra_trees"):
            params["n_estimators"] = 20
        model, _ = families.fit(family, params, ctx, M, np.log1p(y) if log_target else y)
        members.append(model)
    classes = None if task == Task.REGRESSION else [f"c{i}" for i in range(int(y.max()) + 1)]
    ensemble = Ensemble(
        members=members,
        weights=[float(i + 1) for i in range(len(members))],
        names=list(family_names),
        task=task.value,
        classes=classes,
        log_target=[log_target] * len(members),
    )
    return Pipeline([("features", featurizer), ("model", ensemble)]), df


def _check_additive(pipeline: Pipeline, df: pd.DataFrame) -> None:
    rows = df.head(60)
    out = explain(pipeline, rows, columns=[*COLUMNS, "unused"])
    assert out.columns == [*COLUMNS, "unused"]
    assert out.contributions.shape == (60, 6) and not out.contributions[:, 5].any()
    total = out.base + out.contributions.sum(axis=1)
    np.testing.assert_allclose(total, out.value, rtol=1e-6, atol=1e-9)
    model = pipeline.named_steps["model"]
    if model.task == "classification":
        proba = pipeline.predict_proba(rows)
        assert list(out.classes) == list(pipeline.predict(rows))
        np.testing.assert_allclose(out.value, proba.max(axis=1), rtol=1e-9)
    else:
        np.testing.assert_allclose(out.value, pipeline.predict(rows), rtol=1e-9)
    assert np.abs(out.contributions[:, :5]).sum() > 0


FAMILIES = ("lightgbm", "linear", "random_forest", "extra_trees")


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "skewed"])
@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_adds_up_to_its_prediction(kind, family):
    pipeline, df = _pipeline(kind, (family,))
    _check_additive(pipeline, df)


def test_a_poisson_lightgbm_adds_up_to_its_prediction():
    """It predicts exp(margin): its margin contributions are carried through exp."""
    pipeline, df = _pipeline("count", ("lightgbm", "linear"))
    booster = pipeline.named_steps["model"].members[0]
    assert booster.get_params()["objective"] == "poisson"
    _check_additive(pipeline, df)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "skewed"])
def test_an_ensemble_of_every_family_adds_up_to_its_prediction(kind):
    pipeline, df = _pipeline(kind, FAMILIES)
    _check_additive(pipeline, df)


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_the_columns_the_target_depends_on_carry_the_contributions(kind):
    pipeline, df = _pipeline(kind, ("lightgbm", "linear"))
    out = explain(pipeline, df)
    mean_abs = dict(zip(out.columns, np.abs(out.contributions).mean(axis=0), strict=True))
    signal = mean_abs["x"] + mean_abs["colour"]
    assert signal > 0.8 * sum(mean_abs.values()), mean_abs
    assert mean_abs["noise"] < 0.2 * min(mean_abs["x"], mean_abs["colour"]), mean_abs


# What versions registered before modeltrain_model carry in their MLmodel: the same list, with
# the pipeline's own classes under their old module names.
OLD_TRUSTED_TYPES = [
    "modeltrain.pipeline.featurizer.Featurizer",
    "modeltrain.pipeline.ensemble.Ensemble",
    "modeltrain.pipeline.linear_encoder.LinearEncoder",
    *(name for name in trusted_types() if not name.startswith("modeltrain_model.")),
]


def test_a_pipeline_saved_under_the_old_module_names_still_loads_and_predicts(monkeypatch):
    """A file written before the classes moved names ``modeltrain.pipeline.*``; those modules
    re-export the classes, so the service keeps loading such versions."""
    import skops.io

    from modeltrain_model.linear_encoder import LinearEncoder

    pipeline, df = _pipeline("binary", ("lightgbm", "linear"))
    for cls, old in (
        (Featurizer, "modeltrain.pipeline.featurizer"),
        (Ensemble, "modeltrain.pipeline.ensemble"),
        (LinearEncoder, "modeltrain.pipeline.linear_encoder"),
    ):
        monkeypatch.setattr(cls, "__module__", old)
    saved = skops.io.dumps(pipeline)
    monkeypatch.undo()
    assert b"modeltrain.pipeline.featurizer" in saved and b"modeltrain_model" not in saved
    loaded = skops.io.loads(saved, trusted=OLD_TRUSTED_TYPES)
    assert isinstance(loaded.named_steps["features"], Featurizer)
    np.testing.assert_array_equal(loaded.predict(df), pipeline.predict(df))
