"""The family registry: every family's default configuration fits, predicts and explains on
tiny data; names resolve through aliases and an unknown name is refused; a new family
registers with one line and is then searched like the others."""

import math

import numpy as np
import pytest

from modeltrain.constants import Task
from modeltrain.exceptions import InvalidInput
from modeltrain.pipeline import families as training
from modeltrain.training_options import parse_families
from modeltrain_model import families
from modeltrain_model.ensemble import member_output
from modeltrain_model.families import Attribution, Family, FitContext, Space, UnknownFamily


def _tiny(task: Task, rows: int = 60):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(rows, 3))
    X[:, 2] = rng.integers(0, 3, size=rows)  # a category code
    signal = X[:, 0] + X[:, 2]
    return X, (signal > 1).astype(int) if task == Task.CLASSIFICATION else signal


@pytest.mark.parametrize("task", [Task.CLASSIFICATION, Task.REGRESSION])
@pytest.mark.parametrize("name", families.names())
def test_every_family_fits_predicts_and_explains_its_default_configuration(name, task):
    X, y = _tiny(task)
    family = families.get(name)
    params = family.defaults(task, Space(len(y), categorical=True), X.shape[1])
    model, _ = family.fit(params, FitContext(task, [2], 1, math.inf), X, y)
    out = member_output(model, X, task, n_classes=2)
    assert out.shape == ((len(y), 2) if task == Task.CLASSIFICATION else (len(y),))
    assert families.of_member(model) is family
    classify = task == Task.CLASSIFICATION
    k = out.argmax(axis=1) if classify else np.zeros(len(y), dtype=int)
    base, contrib = family.explain(model, Attribution(X, classify, 2, k, False))
    value = out[np.arange(len(y)), k] if classify else out
    np.testing.assert_allclose(base + contrib.sum(axis=1), value, atol=1e-6)


def test_aliases_resolve_and_an_unknown_family_is_refused_never_a_forest():
    assert families.resolve("Ridge") == "linear"
    assert families.resolve("logistic_regression") == "linear"
    with pytest.raises(UnknownFamily, match="'forest'.*linear, lightgbm"):
        families.get("forest")
    with pytest.raises(UnknownFamily):
        training.fit(
            "gbm", {}, FitContext(Task.REGRESSION, [], 1, math.inf), *_tiny(Task.REGRESSION)
        )
    with pytest.raises(InvalidInput) as refused:
        parse_families("lightgbm,forest")
    assert refused.value.extra["field"] == "families"
    with pytest.raises(UnknownFamily):
        families.of_member(object())


def test_a_name_or_alias_already_taken_cannot_be_registered_again():
    class Twin(Family):
        name = "ridge"

    with pytest.raises(ValueError, match="already registered"):
        families.register(Twin())


def test_the_saved_forms_trusted_types_and_requirements_come_from_the_families_held():
    trusted = families.trusted_types()
    assert "lightgbm.basic.Booster" in trusted and "sklearn.tree._tree.Tree" in trusted
    assert len(trusted) == len(set(trusted))
    assert "lightgbm" in families.requirements(["lightgbm"])
    assert "lightgbm" not in families.requirements(["ridge", "extra_trees"])


class _Nearest(Family):
    """A family made in a test: k nearest neighbours, registered with one line."""

    name = "nearest"

    def defaults(self, task, space, columns):
        return {"n_neighbors": 5}

    def suggest(self, trial, task, space):
        return {"n_neighbors": trial.suggest_int("nearest.n_neighbors", 1, 30)}

    def build(self, params, ctx):
        from sklearn.impute import SimpleImputer
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
        from sklearn.pipeline import make_pipeline

        cls = KNeighborsClassifier if ctx.classify else KNeighborsRegressor
        return make_pipeline(SimpleImputer(), cls(**params))

    def owns(self, member):
        return type(member).__name__ == "Pipeline" and "simpleimputer" in member.named_steps


@pytest.fixture
def nearest():
    family = families.register(_Nearest())
    yield family
    families._REGISTRY.pop(family.name)


def test_a_family_registered_with_one_line_is_searched_by_name(nearest):
    import time

    from modeltrain.pipeline.search import search

    assert parse_families("nearest, ridge") == ("linear", "nearest")
    X, y = _tiny(Task.REGRESSION, rows=120)
    found = search(X, y, Task.REGRESSION, [2], time.monotonic() + 3, threads=1, only=("nearest",))
    assert {t.family for t in found.trials} == {"nearest"}
    assert found.incumbent is not None and not math.isnan(found.incumbent.score)
