"""Greedy ensemble selection: which fitted candidates the final Ensemble averages, and how
often each is counted."""

from __future__ import annotations

import numpy as np

ENSEMBLE_ROUNDS = 15  # greedy selection steps (members may be picked more than once)


def select_weights(
    outputs: list[np.ndarray],
    y: np.ndarray,
    score,
    rounds: int = ENSEMBLE_ROUNDS,
) -> tuple[list[int], float]:
    """Greedy ensemble selection with replacement (Caruana et al., 2004) on out-of-fold outputs:
    start from the best single candidate, then keep adding the candidate that improves the
    average most. Returns how often each candidate was picked and the ensemble's score;
    `score(y, output)` is higher-is-better."""
    counts = [0] * len(outputs)
    singles = [score(y, out) for out in outputs]
    first = int(np.argmax(singles))
    counts[first] = 1
    total = outputs[first].astype("float64").copy()
    best = singles[first]
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
    return counts, best
