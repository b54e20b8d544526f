"""The arithmetic that carries a member's contributions from its margin space to the Ensemble's
output space, shared by every family's explain hook.

Several margins (classes) go to the probability of class k by integrated gradients along the
straight line from the base margins to the row's margins: contribution_j = sum_c Phi_jc *
integral of d p_k / d m_c, by Gauss-Legendre quadrature, then scaled by the (tiny) factor that
makes the sum exactly ``p_k(row) - p_k(base)``. One margin through a link f (exp for a Poisson
model, expm1 for a model of log1p(y)) has the closed form ``phi_j * (f(m) - f(b)) / (m - b)``."""

from __future__ import annotations

from typing import Any

import numpy as np

QUADRATURE_NODES = 32


class ExplanationUnavailable(ValueError):
    """The model holds something these explanations do not cover."""


def link(base: np.ndarray, phi: np.ndarray, log_target: bool) -> tuple[np.ndarray, np.ndarray]:
    """A regressor's contributions; one fitted on log1p(y) predicts expm1(margin)."""
    return through(np.expm1, base, phi) if log_target else (base, phi)


def through(f: Any, base: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Margin contributions carried through the link ``f`` (exp or expm1, whose slope is exp):
    ``phi * (f(m) - f(b)) / (m - b)``, the slope at ``b`` where the margin barely moved."""
    margin = base + phi.sum(axis=1)
    gap = margin - base
    safe = np.where(np.abs(gap) > 1e-12, gap, 1.0)
    scale = np.where(np.abs(gap) > 1e-12, (f(margin) - f(base)) / safe, np.exp(base))
    return f(base), phi * scale[:, None]


def softmax(m: np.ndarray) -> np.ndarray:
    e = np.exp(m - m.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def in_probability_space(
    B: np.ndarray, Phi: np.ndarray, member: Any, n_classes: int, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Margin-space contributions ``Phi`` (rows × features × the member's classes) around base
    margins ``B`` carried to the probability of the Ensemble's class ``k`` of each row (see
    modeltrain_model.explain). A class the member never saw has probability 0 there."""
    rows = np.arange(len(B))
    own = {int(c): i for i, c in enumerate(np.asarray(member.classes_, dtype=int))}
    kk = np.array([own.get(int(c), -1) for c in k])
    known = kk >= 0
    kk = np.where(known, kk, 0)
    delta = Phi.sum(axis=1)  # rows × classes
    nodes, node_weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    A = np.zeros_like(B)
    for t, w in zip((nodes + 1) / 2, node_weights / 2, strict=True):
        p = softmax(B + t * delta)
        pk = p[rows, kk]
        grad = -pk[:, None] * p
        grad[rows, kk] += pk
        A += w * grad
    psi = np.einsum("rfc,rc->rf", Phi, A)
    base, value = softmax(B)[rows, kk], softmax(B + delta)[rows, kk]
    got, want = psi.sum(axis=1), value - base
    psi *= np.where(np.abs(got) > 1e-12, want / np.where(got == 0, 1.0, got), 1.0)[:, None]
    base[~known] = 0.0
    psi[~known] = 0.0
    return base, psi
