"""Per-row explanations: how much each raw input column moved a prediction away from the
model's base value, with ``base + sum(contributions) == value`` exactly (up to rounding).

Per member of the Ensemble, in the member's own output space:
- LightGBM: its native tree SHAP (``pred_contrib``), in margin space;
- forests: exact tree SHAP from the ``shap`` library (imported on first use), already in
  probability (or value) space;
- linear models: exact SHAP of a linear model, ``coef * (x - mean(x))``, in margin space.

Margins are carried into probability space by integrated gradients along the straight line from
the base margins to the row's margins: contribution_j = sum_c Phi_jc * integral of
d p_k / d m_c, computed with Gauss-Legendre quadrature and then scaled by the (tiny) factor that
makes the sum exactly ``p_k(row) - p_k(base)``. With one margin (binary classes, a regressor
fitted on log1p(y), a Poisson LightGBM predicting exp(margin)) this is the closed form
``phi_j * (f(m) - f(b)) / (m - b)``. ``base`` is then the probability (or value) at the model's
expected margin. An Ensemble's explanation is the weighted average of
its members' (its output is the weighted average of theirs). Features made from one column
(date parts, text statistics, codes, one-hot columns) add up to that column."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from modeltrain_model import CLASSIFICATION
from modeltrain_model.ensemble import Bag

QUADRATURE_NODES = 32


class ExplanationUnavailable(ValueError):
    """The model holds something these explanations do not cover."""


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
    k = proba.argmax(axis=1) if proba is not None else np.zeros(rows, dtype=int)
    base = np.zeros(rows)
    phi = np.zeros((rows, M.shape[1]))
    weights = model.weights or [1.0]
    logged = model.log_target or [False] * len(weights)
    for member, weight, log_target in zip(model.members or [], weights, logged, strict=True):
        b, c = _member(member, M, classify, n_classes, k, log_target)
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


def _member(
    member: Any, M: np.ndarray, classify: bool, n_classes: int, k: np.ndarray, log_target: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(base, contributions per feature) of one member, in the Ensemble's output space."""
    if isinstance(member, Bag):  # its output is its models' average, taken before any link
        parts = [_member(m, M, classify, n_classes, k, False) for m in member.models or []]
        base, contrib = np.mean([b for b, _ in parts], axis=0), np.mean([c for _, c in parts], 0)
        return (base, contrib) if classify else _link(base, contrib, log_target)
    booster = getattr(member, "booster_", None)
    if booster is not None:
        raw = booster.predict(M, pred_contrib=True, num_threads=1 if len(M) <= 1000 else 0)
        F = M.shape[1]
        if not classify:
            base, phi = raw[:, F], raw[:, :F]
            if _poisson(member):  # LightGBM predicts exp(margin)
                base, phi = _through(np.exp, base, phi)
            return _link(base, phi, log_target)
        if raw.shape[1] == F + 1:  # binary: the margin of class 1
            Phi = np.stack([np.zeros((len(M), F)), raw[:, :F]], axis=2)
            B = np.column_stack([np.zeros(len(M)), raw[:, F]])
        else:
            blocks = raw.reshape(len(M), -1, F + 1)  # rows × classes × (features + bias)
            Phi, B = blocks[:, :, :F].transpose(0, 2, 1), blocks[:, :, F]
        return _in_probability_space(B, Phi, member, n_classes, k)
    if hasattr(member, "estimators_") and hasattr(member, "n_outputs_"):  # a forest
        return _forest(member, M, classify, n_classes, k, log_target)
    if hasattr(member, "named_steps") and "prep" in member.named_steps:  # encoder + linear
        return _linear(member, M, classify, n_classes, k, log_target)
    raise ExplanationUnavailable(f"no explanations for a {type(member).__name__}")


def _linear(
    member: Any, M: np.ndarray, classify: bool, n_classes: int, k: np.ndarray, log_target: bool
) -> tuple[np.ndarray, np.ndarray]:
    encoder, linear = member.named_steps["prep"], member.named_steps["model"]
    mean = getattr(encoder, "output_mean_", None)
    if mean is None:
        raise ExplanationUnavailable(
            "this model version was trained before explanations were added; train it again"
        )
    Z = encoder.transform(M) - mean
    S = np.zeros((Z.shape[1], M.shape[1]))  # encoded column -> featurizer feature
    S[np.arange(Z.shape[1]), encoder.output_sources()] = 1.0
    coef = np.atleast_2d(linear.coef_)  # outputs × encoded columns
    intercept = np.atleast_1d(linear.intercept_)
    base = coef @ mean + intercept  # the expected margin(s)
    contrib = Z[:, None, :] * coef[None, :, :] @ S  # rows × outputs × features
    if not classify:
        return _link(np.full(len(M), base[0]), contrib[:, 0, :], log_target)
    if coef.shape[0] == 1:  # binary: the margin of class 1
        Phi = np.stack([np.zeros_like(contrib[:, 0, :]), contrib[:, 0, :]], axis=2)
        B = np.tile([0.0, base[0]], (len(M), 1))
    else:
        Phi, B = contrib.transpose(0, 2, 1), np.tile(base, (len(M), 1))
    return _in_probability_space(B, Phi, linear, n_classes, k)


def _forest(
    forest: Any, M: np.ndarray, classify: bool, n_classes: int, k: np.ndarray, log_target: bool
) -> tuple[np.ndarray, np.ndarray]:
    explainer = _tree_explainer(forest)
    values = np.asarray(explainer.shap_values(M, check_additivity=False))
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if not classify:
        values = values.reshape(len(M), M.shape[1])
        return _link(np.full(len(M), expected[0]), values, log_target)
    if values.ndim == 2:  # one class seen: a (rows × features) array
        values = values[:, :, None]
    rows = np.arange(len(M))
    base, contrib = np.zeros(len(M)), np.zeros((len(M), M.shape[1]))
    for column, label in enumerate(np.asarray(forest.classes_, dtype=int)):
        hit = k == label
        base[hit] = expected[column]
        contrib[hit] = values[rows[hit], :, column]
    return base, contrib


# shap's explainer per forest object, made once (its copy of the trees is costly); kept beside
# the forest, not on it, so that the model saved after training holds no shap object.
_EXPLAINERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _tree_explainer(forest: Any) -> Any:
    explainer = _EXPLAINERS.get(forest)
    if explainer is None:
        import shap  # imported on first use: it takes a second and only forests need it

        explainer = shap.TreeExplainer(forest, feature_perturbation="tree_path_dependent")
        _EXPLAINERS[forest] = explainer
    return explainer


def _poisson(member: Any) -> bool:
    params = member.get_params() if hasattr(member, "get_params") else {}
    return params.get("objective") == "poisson"


def _link(base: np.ndarray, phi: np.ndarray, log_target: bool) -> tuple[np.ndarray, np.ndarray]:
    """A regressor's contributions; one fitted on log1p(y) predicts expm1(margin)."""
    return _through(np.expm1, base, phi) if log_target else (base, phi)


def _through(link: Any, base: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Margin contributions carried through ``link`` (exp or expm1, whose slope is exp):
    ``phi * (f(m) - f(b)) / (m - b)``, the slope at ``b`` where the margin barely moved."""
    margin = base + phi.sum(axis=1)
    gap = margin - base
    safe = np.where(np.abs(gap) > 1e-12, gap, 1.0)
    scale = np.where(np.abs(gap) > 1e-12, (link(margin) - link(base)) / safe, np.exp(base))
    return link(base), phi * scale[:, None]


def _softmax(m: np.ndarray) -> np.ndarray:
    e = np.exp(m - m.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _in_probability_space(
    B: np.ndarray, Phi: np.ndarray, member: Any, n_classes: int, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Margin-space contributions ``Phi`` (rows × features × the member's classes) around base
    margins ``B`` carried to the probability of the Ensemble's class ``k`` of each row (see the
    module docstring). A class the member never saw has probability 0 there."""
    rows = np.arange(len(B))
    own = {int(c): i for i, c in enumerate(np.asarray(member.classes_, dtype=int))}
    kk = np.array([own.get(int(c), -1) for c in k])
    known = kk >= 0
    kk = np.where(known, kk, 0)
    delta = Phi.sum(axis=1)  # rows × classes
    nodes, node_weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    A = np.zeros_like(B)
    for t, w in zip((nodes + 1) / 2, node_weights / 2, strict=True):
        p = _softmax(B + t * delta)
        pk = p[rows, kk]
        grad = -pk[:, None] * p
        grad[rows, kk] += pk
        A += w * grad
    psi = np.einsum("rfc,rc->rf", Phi, A)
    base, value = _softmax(B)[rows, kk], _softmax(B + delta)[rows, kk]
    got, want = psi.sum(axis=1), value - base
    psi *= np.where(np.abs(got) > 1e-12, want / np.where(got == 0, 1.0, got), 1.0)[:, None]
    base[~known] = 0.0
    psi[~known] = 0.0
    return base, psi
