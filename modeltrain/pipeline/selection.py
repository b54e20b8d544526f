"""Greedy ensemble selection: which fitted candidates the final Ensemble averages, and how
often each is counted; and when one candidate's validation score is better than another's by
more than the noise of the rows it was measured on.

Why the noise matters: the search scores every trial on the same validation rows, and the more
trials it runs, the likelier the best score is a lucky one, so that a longer search could end
with a worse model than a shorter one. So a later trial replaces the one chosen so far only when
it is better on most resamples of those rows, not merely better on them (the ensemble of the
incumbents needs no such test: choose says why; docs/training.md has the measurements)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modeltrain.pipeline.trials import SearchResult, Trial

ENSEMBLE_ROUNDS = 15  # greedy selection steps (members may be picked more than once)
# A challenger wins when its mean gain over the resamples is this many standard deviations of
# that gain (a paired bootstrap of the validation rows).
NOISE_Z = 1.0
BOOTSTRAP_SAMPLES = 30
BOOTSTRAP_ROWS = 5_000  # resamples are drawn from at most this many rows (a fixed sample)
MIN_ENSEMBLE_GAIN = 1e-4  # validation score an ensemble must add over the best single model

# (truth, output, row weights or None) -> higher is better (a metrics.Judge)
Score = Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]
Picked = list[tuple[Trial, int]]  # (trial, weight)


def clearly_better(
    y: np.ndarray,
    challenger: np.ndarray,
    incumbent: np.ndarray,
    score: Score,
    seed: int = 0,
    weight: np.ndarray | None = None,
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
            w = None if weight is None else weight[pick]
            gains.append(score(y[pick], challenger[pick], w) - score(y[pick], incumbent[pick], w))
        except ValueError:  # a resample without some class: not a measurement
            continue
    if len(gains) < 2:
        return score(y, challenger, weight) > score(y, incumbent, weight)
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
    weight: np.ndarray | None = None,
) -> Selection:
    """Greedy ensemble selection with replacement (Caruana et al., 2004) on out-of-fold outputs:
    start from candidate ``first`` (default: the best single one), then keep adding the
    candidate that improves the average most; `score(y, output)` is higher-is-better."""
    counts = [0] * len(outputs)
    if first is None:
        first = int(np.argmax([score(y, out, weight) for out in outputs]))
    counts[first] = 1
    total = outputs[first].astype("float64").copy()
    best = score(y, outputs[first], weight)
    for _ in range(rounds - 1):
        picked, picked_score = None, best
        n = sum(counts)
        for i, out in enumerate(outputs):
            candidate = score(y, (total + out) / (n + 1), weight)
            if candidate > picked_score + 1e-9:
                picked, picked_score = i, candidate
        if picked is None:
            break
        counts[picked] += 1
        total += outputs[picked]
        best = picked_score
    return Selection(counts, best, total / sum(counts))


def choose(
    found: SearchResult, y: np.ndarray, judge: Score, weight: np.ndarray | None = None
) -> tuple[Picked, float, np.ndarray]:
    """The search's incumbent alone, or a greedy ensemble grown from it over each family's
    incumbent when that adds to its validation score. Returns (trial, weight) pairs and the
    validation score (oriented) and outputs (what a decision threshold is tuned on).

    No test against the noise here: that guards against the luckiest of many trials of one
    family, while the ensemble's members are at most one a family, each chosen against the noise
    already, and their average is the steadier model where the validation rows cannot tell them
    apart (with the test, on few rows of a rare class it could never pass). The families'
    incumbents, not the best trials: those are near-copies of one configuration, each a little
    lucky on the validation rows."""
    pool = found.incumbents()  # the incumbent first; every one keeps its outputs
    incumbent = pool[0]
    outputs = [t.output for t in pool if t.output is not None]
    truth = y[found.covered]
    w = None if weight is None else weight[found.covered]
    selection = select_weights(outputs, truth, judge, first=0, weight=w)
    picked = [(t, c) for t, c in zip(pool, selection.counts, strict=True) if c > 0]
    if len(picked) > 1 and selection.score > incumbent.score + MIN_ENSEMBLE_GAIN:
        return picked, selection.score, selection.output
    assert incumbent.output is not None
    return [(incumbent, 1)], incumbent.score, incumbent.output
