"""A training job's ``timeBudget`` is its running time, as its client sees it: training gets
what is left of it once the CSV is read, less an estimate of what follows training (logging
the run, the model and the stored CSV to MLflow, registering, the gate); training keeps to
that, its final fits and explanations included (pipeline/train.py). The estimate is what
bench/quality.py's service part measures (the `job.phases` log line; docs/benchmarks.md)."""

from __future__ import annotations

AFTER_TRAINING_SECONDS = 1.9  # what follows any training
AFTER_TRAINING_SECONDS_PER_MB = 0.02  # and per MB of CSV (the stored CSV, evaluating)
MIN_SEARCH_SHARE = 0.5  # the search keeps at least this share of the budget


def search_budget(budget: float, csv_bytes: int, elapsed: float) -> float:
    """Seconds of search for a job of ``budget`` seconds on ``csv_bytes`` bytes of CSV,
    ``elapsed`` seconds after the job started running."""
    after = AFTER_TRAINING_SECONDS + AFTER_TRAINING_SECONDS_PER_MB * csv_bytes / 1e6
    return max(MIN_SEARCH_SHARE * budget, budget - elapsed - after)
