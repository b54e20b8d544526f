"""Greedy ensemble selection: which fitted candidates the final Ensemble averages, and how
often each is counted; and when one candidate's validation score is better than another's by
more than the noise of the rows it was measured on.

Why the noise matters: the search scores every trial on the same validation rows, and the more
trials it runs, the likelier the best score is a lucky one. On a few hundred noisy rows that
made a 30 s search end with a worse model than a 10 s one (medpar: R² 0.139 against 0.162 on
held-out rows). So a later trial replaces the one chosen so far only when it is better on most
resamples of those rows, not merely better on them (the ensemble of the incumbents needs no such
test: final.choose says why)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ENSEMBLE_ROUNDS = 15  # greedy selection steps (members may be picked more than once)
# A challenger wins when its mean gain over the resamples is this many standard deviations of
# that gain (a paired bootstrap of the validation rows).
NOISE_Z = 1.0
BOOTSTRAP_SAMPLES = 30
BOOTSTRAP_ROWS = 5_000  # resamples are drawn from at most this many rows (a fixed sample)

Score = Callable[[np.ndarray, np.ndarray], float]  # (truth, output) -> higher is better


def clearly_better(
    y: np.ndarray, challenger: np.ndarray, incumbent: np.ndarray, score: Score, seed: int = 0
) -> bool:
    """Is ``challenger`` better than ``incumbent`` on these rows by more than their noise: its
    gain over bootstrap resamples of the rows (the same resamples for both) at least NOISE_Z
    standard deviations above zero?"""
    rng = np.random.default_rng(seed)
    rows = len(y)
    index = np.arange(rows)
    if rows > BOOTSTRAP_ROWS:
        index = rng.choice(rows, BOOTSTRAP_ROWS, replace=False)
    gains = []
    for _ in range(BOOTSTRAP_SAMPLES):
        pick = index[rng.integers(0, len(index), len(index))]
        try:
            gains.append(score(y[pick], challenger[pick]) - score(y[pick], incumbent[pick]))
        except ValueError:  # a resample without some class: not a measurement
            continue
    if len(gains) < 2:
        return score(y, challenger) > score(y, incumbent)
    mean, spread = float(np.mean(gains)), float(np.std(gains, ddof=1))
    return mean > 0 and mean >= NOISE_Z * spread


@dataclass
class Selection:
    counts: list[int]  # how often each candidate was picked
    score: float  # the ensemble's validation score
    output: np.ndarray  # its validation outputs: the candidates' outputs averaged by counts


def select_weights(
    outputs: list[np.ndarray],
    y: np.ndarray,
    score: Score,
    rounds: int = ENSEMBLE_ROUNDS,
    first: int | None = None,
) -> Selection:
    """Greedy ensemble selection with replacement (Caruana et al., 2004) on out-of-fold outputs:
    start from candidate ``first`` (default: the best single one), then keep adding the
    candidate that improves the average most; `score(y, output)` is higher-is-better."""
    counts = [0] * len(outputs)
    if first is None:
        first = int(np.argmax([score(y, out) for out in outputs]))
    counts[first] = 1
    total = outputs[first].astype("float64").copy()
    best = score(y, outputs[first])
    for _ in range(rounds - 1):
        picked, picked_score = None, best
        n = sum(counts)
        for i, out in enumerate(outputs):
            candidate = score(y, (total + out) / (n + 1))
            if candidate > picked_score + 1e-9:
                picked, picked_score = i, candidate
        if picked is None:
            break
        counts[picked] += 1
        total += outputs[picked]
        best = picked_score
    return Selection(counts, best, total / sum(counts))
