"""Per-row explanations: how much each raw input column moved a prediction away from the
model's base value, with ``base + sum(contributions) == value`` exactly (up to rounding).

Each member of the Ensemble is explained by its family's ``explain`` hook
(modeltrain_model.families): exact SHAP in the member's margin or output space. Margins are
carried into probability space by integrated gradients along the straight line from the base
margins to the row's margins (modeltrain_model.attribution), scaled so that the sum is exactly
``p_k(row) - p_k(base)``; ``base`` is then the probability (or value) at the model's expected
margin. An Ensemble's explanation is the weighted average of its members' (its output is the
weighted average of theirs). Features made from one column (date parts, text statistics,
codes, one-hot columns) add up to that column."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from modeltrain_model import CLASSIFICATION, families
from modeltrain_model.attribution import ExplanationUnavailable, link
from modeltrain_model.ensemble import Bag
from modeltrain_model.families import Attribution

__all__ = ["Explanation", "ExplanationUnavailable", "explain"]


@dataclass
class Explanation:
    value: np.ndarray  # (rows,) what is explained: the prediction, or the class's probability
    base: np.ndarray  # (rows,)
    classes: np.ndarray | None  # (rows,) the class explained (the predicted one), or None
    contributions: np.ndarray  # (rows, columns)
    columns: list[str]


def explain(pipeline: Any, X: Any, columns: list[str] | None = None) -> Explanation:
    """Explain ``pipeline`` (featurizer + Ensemble) on the rows ``X``; ``columns`` are the input
    columns to report (default: the ones the featurizer reads; others get 0)."""
    featurizer = pipeline.named_steps["features"]
    model = pipeline.named_steps["model"]
    M = featurizer.transform(X)
    rows = len(M)
    classify = model.task == CLASSIFICATION
    n_classes = len(model.classes or [])
    proba = model.predict_proba(M) if classify else None
    # the class explained is the predicted one (after the model's decision threshold, if any)
    k = model.class_positions(proba) if proba is not None else np.zeros(rows, dtype=int)
    base = np.zeros(rows)
    phi = np.zeros((rows, M.shape[1]))
    weights = model.weights or [1.0]
    logged = model.log_target or [False] * len(weights)
    for member, weight, log_target in zip(model.members or [], weights, logged, strict=True):
        b, c = _member(member, Attribution(M, classify, n_classes, k, log_target))
        base += weight * b
        phi += weight * c
    total = float(sum(weights))
    base, phi = base / total, phi / total
    value = proba[np.arange(rows), k] if proba is not None else model.predict(M)
    columns = list(columns if columns is not None else featurizer.input_columns)
    position = {name: i for i, name in enumerate(columns)}
    S = np.zeros((M.shape[1], len(columns)))
    for feature, source in enumerate(featurizer.feature_sources_):
        if source in position:
            S[feature, position[source]] = 1.0
    explained = model.classes_[k] if proba is not None else None
    return Explanation(np.asarray(value, dtype=float), base, explained, phi @ S, columns)


def _member(member: Any, at: Attribution) -> tuple[np.ndarray, np.ndarray]:
    """(base, contributions per feature) of one member, in the Ensemble's output space."""
    if isinstance(member, Bag):  # its output is its models' average, taken before any link
        inner = replace(at, log_target=False)
        parts = [_member(m, inner) for m in member.models or []]
        base, contrib = np.mean([b for b, _ in parts], axis=0), np.mean([c for _, c in parts], 0)
        return (base, contrib) if at.classify else link(base, contrib, at.log_target)
    try:
        family = families.of_member(member)
    except families.UnknownFamily as exc:
        raise ExplanationUnavailable(f"no explanations for a {type(member).__name__}") from exc
    return family.explain(member, at)
