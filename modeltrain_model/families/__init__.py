"""The model families: one registry that the search, the final model, explanations, the saved
model's trusted types and requirements, the warm-up, ``/api/info``, the CLI and the web page all
read. A family is one module of its own (see ``base.Family``) and one ``register`` line below;
the order of registration is the search's (cheap defaults first). An unknown name is an
``UnknownFamily`` error, never a default."""

from __future__ import annotations

from typing import Any

from modeltrain_model.families.base import (
    Attribution,
    Family,
    FitContext,
    Space,
    UnknownFamily,
)
from modeltrain_model.families.forests import ExtraTrees, RandomForest
from modeltrain_model.families.lightgbm import LightGBM
from modeltrain_model.families.linear import Linear

__all__ = [
    "Attribution", "Family", "FitContext", "Space", "UnknownFamily",
    "register", "get", "resolve", "names", "all_families", "of_member",
    "trusted_types", "requirements",
]  # fmt: skip

# Types every saved pipeline holds besides its families' (a unit test checks that a trained
# pipeline holds no others).
COMMON_TRUSTED_TYPES = (
    "modeltrain_model.featurizer.Featurizer",
    "modeltrain_model.ensemble.Ensemble",
    "modeltrain_model.ensemble.Bag",
    "collections.OrderedDict",
    "collections.defaultdict",
    "numpy.dtype",
    "builtins.slice",
)
# What every version needs to load and predict, beside its families' own packages.
COMMON_REQUIREMENTS = ("mlflow", "scikit-learn", "pandas", "numpy", "skops")

_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family; its name and aliases must be new."""
    taken = {*_REGISTRY, *(a for f in _REGISTRY.values() for a in f.aliases)}
    clash = {family.name, *family.aliases} & taken
    if clash:
        raise ValueError(f"family name already registered: {', '.join(sorted(clash))}")
    _REGISTRY[family.name] = family
    return family


register(Linear())
register(LightGBM())
register(ExtraTrees())
register(RandomForest())


def names() -> tuple[str, ...]:
    """Every family's name, in the search's order."""
    return tuple(_REGISTRY)


def all_families() -> tuple[Family, ...]:
    return tuple(_REGISTRY.values())


def resolve(name: str) -> str:
    """A family's name from its name or one of its aliases (case and spaces ignored)."""
    wanted = name.strip().lower()
    for family in _REGISTRY.values():
        if wanted == family.name or wanted in family.aliases:
            return family.name
    raise UnknownFamily(f"unknown model family {name!r}; the families are: {', '.join(names())}")


def get(name: str) -> Family:
    return _REGISTRY[resolve(name)]


def of_member(member: Any) -> Family:
    """The family of a fitted member of an Ensemble."""
    for family in _REGISTRY.values():
        if family.owns(member):
            return family
    raise UnknownFamily(f"no registered family fits a {type(member).__name__}")


def trusted_types() -> list[str]:
    """Every type skops must be told to trust to load any saved pipeline."""
    found = [*COMMON_TRUSTED_TYPES, *(t for f in _REGISTRY.values() for t in f.trusted_types)]
    return list(dict.fromkeys(found))


def requirements(family_names: list[str] | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The pip packages a version needs: the common ones and those of the families it holds
    (None: every family's)."""
    held = all_families() if family_names is None else [get(n) for n in family_names]
    return tuple(dict.fromkeys([*COMMON_REQUIREMENTS, *(r for f in held for r in f.requirements)]))
